"""The ChRIS plugin wrapper's exact call, on the example tree.

pl-pfdicom_tagSub (FNNDSC, ``dcm_tagSub/dcm_tagSub.py``) parses its command line with chrisapp's
``ChrisApp`` parser, sets ``options.str_desc = ""`` and passes ``vars(options)`` to the class, then
runs it and prints the elapsed time through ``dp.qprint``. ``chris_options`` below is that dict,
key for key, with the parser's defaults and types: chrisapp's own keys (``inputdir``/``outputdir``
in lower case, ``json``, ``savejson``, ``inputmeta``, ``saveinputmeta``, ``saveoutputmeta``,
``version``, ``meta``, ``man``, ``verbosity`` as the text ``'0'``) and the plugin's (``-e`` stored as
``fileFilter``, ``threads`` as the text ``'0'``, ``jsonReturn``, ``synopsis``, ...).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest

from pfdicom_tagSub import pfdicom_tagSub
from tests.conftest import EXAMPLES, dcm, tree_snapshot
from tests.expected import md5_expected, name_expected

WRAPPER_TAGINFO: str = (
    "PatientName,%_name|patientID_PatientName ++ PatientID,%_md5|7_PatientID ++ "
    "AccessionNumber,%_md5|8_AccessionNumber"
)


def chris_options(inputdir: Path, outputdir: Path, **given: object) -> dict[str, object]:
    """``vars(options)`` of the wrapper: every default of its parser, then what the user gave."""
    options: dict[str, object] = {
        # chrisapp.base.ChrisApp
        "json": False,
        "savejson": None,
        "inputdir": str(inputdir),
        "outputdir": str(outputdir),
        "inputmeta": None,
        "saveinputmeta": False,
        "saveoutputmeta": False,
        "version": False,
        "meta": False,
        "verbosity": "0",
        "man": False,
        # Dcm_tagSub.define_parameters
        "inputFile": "",
        "fileFilter": "",
        "fileFilterLogic": "OR",
        "dirFilter": "",
        "dirFilterLogic": "OR",
        "syslog": False,
        "tagFile": "",
        "tagStruct": "",
        "tagInfo": "",
        "splitKeyValue": ",",
        "splitToken": "++",
        "outputFileStem": "",
        "printElapsedTime": False,
        "threads": "0",
        "outputLeafDir": "",
        "synopsis": False,
        "jsonReturn": False,
        "followLinks": False,
    }
    options.update(given)
    return options


def wrapper_run(options: dict[str, object]) -> dict[str, object]:
    """What ``Dcm_tagSub.run(options)`` does with the package (its own banner prints left out)."""
    options["str_desc"] = ""
    app = pfdicom_tagSub.pfdicom_tagSub(options)
    assert app.str_version
    d = app.run(timerStart=True)
    if options["printElapsedTime"]:
        app.dp.qprint("Elapsed time = %f seconds" % d["runTime"])  # noqa: UP031  # the wrapper's own line
    return d


@pytest.fixture
def example_in(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLES / "dicom", tmp_path / "incoming"))


def assert_wrapper_rules_applied(incoming: Path, outgoing: Path) -> None:
    """Every example DICOM file written, with the three rules applied at every depth, nothing else."""
    inputs = sorted(path.relative_to(incoming) for path in incoming.rglob("*.dcm"))
    assert sorted(path.relative_to(outgoing) for path in outgoing.rglob("*") if path.is_file()) == inputs
    for relative in inputs:
        original = pydicom.dcmread(incoming / relative)
        output = dcm(outgoing / relative)
        assert str(output.PatientName) == name_expected(original.PatientID)
        assert output.PatientID == md5_expected(original.PatientID, 7)
        assert output.AccessionNumber == md5_expected(original.AccessionNumber, 8)
        nestedIn, nestedOut = original.OtherPatientIDsSequence[0], output.OtherPatientIDsSequence[0]
        assert str(nestedOut.PatientName) == name_expected(nestedIn.PatientID)
        assert nestedOut.PatientID == md5_expected(nestedIn.PatientID, 7)
        for keyword in ("PatientBirthDate", "ReferringPhysicianName", "InstitutionName", "PixelData"):
            assert output[keyword].value == original[keyword].value


def test_the_chris_wrapper_call_with_its_defaults_de_identifies_the_example_tree(
    example_in: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_snapshot(example_in)
    options = chris_options(example_in, tmp_path / "outgoing", tagInfo=WRAPPER_TAGINFO, printElapsedTime=True)

    d = wrapper_run(options)

    assert d["status"] is True
    assert isinstance(d["runTime"], float) and d["runTime"] > 0
    tagSub = d["d_tagSub"]
    assert isinstance(tagSub, dict)
    assert (tagSub["filesRead"], tagSub["filesAnalyzed"], tagSub["filesSaved"]) == (4, 4, 4)
    assert [entry["file"] for entry in tagSub["notDicom"]] == [str(example_in / "README.txt")]
    assert_wrapper_rules_applied(example_in, tmp_path / "outgoing")
    assert tree_snapshot(example_in) == before
    # verbosity '0' is the wrapper's default: nothing on stdout, as pfmisc printed nothing either
    assert capsys.readouterr().out == ""


def test_the_chris_wrapper_call_with_an_extension_filter_and_verbosity_prints_the_elapsed_time(
    example_in: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the plugin's `-e dcm -v 1 --printElapsedTime`
    options = chris_options(
        example_in,
        tmp_path / "outgoing",
        tagInfo=WRAPPER_TAGINFO,
        fileFilter="dcm",
        verbosity="1",
        printElapsedTime=True,
    )

    d = wrapper_run(options)

    assert d["status"] is True
    tagSub = d["d_tagSub"]
    assert isinstance(tagSub, dict)
    assert tagSub["filesSaved"] == 4 and tagSub["notDicom"] == []
    assert_wrapper_rules_applied(example_in, tmp_path / "outgoing")
    out = capsys.readouterr().out
    assert f"Elapsed time = {d['runTime']:f} seconds" in out.splitlines()


def test_the_older_wrapper_keyword_call_still_works(example_in: Path, tmp_path: Path) -> None:
    # pl-pfdicom_tagSub before it switched to vars(options) passed keywords, with its -e as `extension`
    app = pfdicom_tagSub.pfdicom_tagSub(
        inputDir=str(example_in),
        inputFile="",
        extension="dcm",
        outputDir=str(tmp_path / "outgoing"),
        outputFileStem="",
        outputLeafDir="",
        tagFile="",
        tagStruct="",
        splitToken="++",
        splitKeyValue=",",
        tagInfo=WRAPPER_TAGINFO,
        threads="0",
        verbosity="0",
        followLinks=False,
        json=False,
    )
    d = app.run(timerStart=True)
    assert d["status"] is True
    assert_wrapper_rules_applied(example_in, tmp_path / "outgoing")
