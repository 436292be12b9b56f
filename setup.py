"""Install pfdicom_tagSub: ``pip install .`` (``pip install '.[test,dask]'`` for the tests and linters,
``'.[dask]'`` to run on a Dask cluster)."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = next(
    line.split('"')[1]
    for line in (HERE / "pfdicom_tagSub" / "__init__.py").read_text().splitlines()
    if line.startswith("__version__")
)

setup(
    name="pfdicom_tagSub",
    version=VERSION,
    description="Rewrite DICOM headers by rules over a directory tree: de-identify DICOM the pf* way",
    long_description=(HERE / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    license="MIT",
    packages=find_packages(include=["pfdicom_tagSub", "pfdicom_tagSub.*"]),
    # PS3.15 Table E.1-1 for --profile, with its MIT licence and a note naming its source
    package_data={"pfdicom_tagSub": ["data/*.json", "data/*.txt"]},
    python_requires=">=3.11",
    install_requires=[
        "pydicom>=3.0,<4",
        "pftree>=4.2,<5",
        # the fake names of a seed hold from Faker 20 to 40 (checked: same names for 3000 seeds)
        "Faker>=20,<41",
        "tqdm>=4.60",
    ],
    extras_require={
        # bounded to the releases CI passes with: a new ruff or mypy may find (or format) otherwise
        "test": ["pytest>=8,<10", "ruff>=0.17,<0.18", "mypy>=2.4,<3", "docutils>=0.20,<1"],
        # --dask: the (calendar) major version the tests pass with, from its first working release
        "dask": ["dask>=2026.1.1,<2027", "distributed>=2026.1.1,<2027"],
    },
    entry_points={"console_scripts": ["pfdicom_tagSub=pfdicom_tagSub.__main__:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: MIT License",
        "Topic :: Scientific/Engineering :: Medical Science Apps.",
        "Operating System :: POSIX",
    ],
)
