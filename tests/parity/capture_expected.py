"""Capture what the original 3.1.1 writes, for the literal expected values of tests/test_original_parity.py.

Not a test: run by hand with the original in a side venv on its pinned stack::

    python tests/parity/capture_expected.py --orig /work/orig

For every case of ``CASES`` (a file and a rule set) the original runs on the file alone in its own
directory, with its own spellings; the script prints, per case, the top-level value the original
wrote for every element a rule targets, leaving out SPEC's deliberate differences (template text
written for an absent reference, sequences, colliding keyword references, names with titles), so
that what is printed is what this tool must write too.
"""

from __future__ import annotations

import argparse
import json
import logging
import pprint
import re
import sys
import tempfile
import warnings
from pathlib import Path

import pydicom
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.dataset import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_original import (  # a sibling script, not a package
    COMMON_RULES,
    README_RULES,
    TITLE_TOKENS,
    RuleSetSpec,
    original_run,
    references_original,
    references_ours,
    rule_winning,
    text_of,
)

# the common rules without the one that shows the keyword collision, plus two created elements
PARITY_RULES: dict[str, str] = {
    **{key: value for key, value in COMMON_RULES.items() if key != "re:ManufacturerModel"},
    "PatientIdentityRemoved": "YES",
    "DeidentificationMethod": "pfdicom_tagSub %_md5|4_PatientID",
}
RULE_SETS: dict[str, dict[str, str]] = {"README_RULES": README_RULES, "PARITY_RULES": PARITY_RULES}
FILES: tuple[str, ...] = (
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "JPEG2000.dcm",
    "waveform_ecg.dcm",
    "chrFren.dcm",
    "chrH31.dcm",
)
# CT_small.dcm with these PatientIDs: Faker's name for the seed has a suffix (kept first and last
# name in both tools) or nothing around it
PATIENT_IDS: tuple[str, ...] = ("P0039", "P0014")


def source_of(name: str) -> Path:
    """A bundled file by name, from the test files or the character-set files (never downloaded)."""
    charset: list[str] = [path for path in get_charset_files() if Path(path).name == name]
    return Path(charset[0]) if charset else Path(str(get_testdata_file(name, download=False)))


def inputs_make(root: Path) -> dict[str, Dataset]:
    """The case name to the data set to process."""
    cases: dict[str, Dataset] = {name: pydicom.dcmread(source_of(name)) for name in FILES}
    for patientID in PATIENT_IDS:
        dataset: Dataset = pydicom.dcmread(source_of("CT_small.dcm"))
        dataset.PatientID = patientID
        cases[f"CT_small.dcm PatientID={patientID}"] = dataset
    return cases


def targeted(rules: dict[str, str], source: Dataset) -> list[str]:
    """The keywords a rule set targets in a file: its explicit keys and the regex hits."""
    keywords: list[str] = [key for key in rules if not key.startswith("re:")]
    for keyword in source.dir():
        if keyword not in keywords and rule_winning(rules, keyword, regexWins=False) is not None:
            keywords.append(keyword)
    return keywords


def value_isShared(rules: dict[str, str], keyword: str, source: Dataset, written: str | None) -> bool:
    """Whether both tools must write this value (no deliberate difference applies)."""
    template: str | None = rule_winning(rules, keyword, regexWins=False)
    if written is None or template is None or "%" in written:
        return False
    if keyword in source and source[keyword].VR == "SQ":
        return False
    if template != rule_winning(rules, keyword, regexWins=True):
        return False
    if references_original(template, source) - references_ours(template):
        return False
    parts: list[str] = written.split("^")
    return not ("%_name" in template and len(parts) > 1 and parts[1] in TITLE_TOKENS)


def case_capture(orig: Path, work: Path, dataset: Dataset, rules: dict[str, str]) -> dict[str, str]:
    """Run the original on one file; the values it wrote that this tool must write too."""
    (work / "in" / "d").mkdir(parents=True)
    dataset.save_as(work / "in" / "d" / "f.dcm")
    original_run(orig, work, RuleSetSpec(rules))
    written: Dataset = pydicom.dcmread(work / "out_orig" / "in" / "d" / "f.dcm", force=True)
    return {
        keyword: value
        for keyword in targeted(rules, dataset)
        if value_isShared(rules, keyword, dataset, value := text_of(written, written_tag(keyword)))
    }


def written_tag(keyword: str) -> int:
    """The tag of a keyword."""
    return int(pydicom.datadict.tag_for_keyword(keyword) or 0)


def main(argv: list[str] | None = None) -> int:
    """Print the expected values, case by case, as Python literals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orig", default="/work/orig", help="the original's venv (default /work/orig)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temp:
        for setName, rules in RULE_SETS.items():
            expected: dict[str, dict[str, str]] = {}
            for index, (case, dataset) in enumerate(inputs_make(Path(temp)).items()):
                expected[case] = case_capture(
                    Path(args.orig), Path(temp) / f"{setName}-{index}", dataset, rules
                )
            print(f"# {setName} = {json.dumps(rules)}")
            print(re.sub(r"^", "    ", pprint.pformat(expected, width=106, sort_dicts=False), flags=re.M))
    return 0


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.getLogger("pydicom").setLevel(logging.ERROR)
    sys.exit(main())
