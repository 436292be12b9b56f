"""pfdicom_tagSub: rewrite DICOM headers by rules, over a whole directory tree.

A rebuild of FNNDSC's ``pfdicom_tagSub`` on pydicom 3, pftree 4 and Faker, keeping its command
line and its Python class. Importing the package is cheap (``--version`` must be instant); the
classes load pydicom and pftree when first used.

Key components:
    - pfdicom_tagSub.pfdicom_tagSub.pfdicom_tagSub: the class existing callers use
    - pfdicom_tagSub.pfdicom.pfdicom: the DICOM-aware tree engine it is built on
    - pfdicom_tagSub.__main__.main: the command line

Typical usage:
    from pfdicom_tagSub import pfdicom_tagSub
    app = pfdicom_tagSub.pfdicom_tagSub({"inputDir": "in", "outputDir": "out", "tagStruct": "{}"})
    d = app.run(timerStart=True)
"""

from __future__ import annotations

__version__: str = "5.0.0"
__pkg_name__: str = "pfdicom_tagSub"

__all__ = ["__version__"]
