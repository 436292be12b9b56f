"""The benchmark's peers, DCMTK's ``dcmodify`` and GDCM's ``gdcmanon``, and its comparisons of trees.

Each peer runs over the same tree with rules as close to the README's as it can take: fixed
values for the README's four patient elements and for the physician, institution and address
elements that its regexes reach (neither peer computes an md5 or a name). ``dcmodify`` changes
files in place, so its run is ``cp -r`` and then one ``dcmodify`` over every copy (``-ma``: at
every depth); ``gdcmanon --dumb`` runs once per file, because one file it cannot read ends the
run of a whole directory.

Key components:
    - peers_available: which of the two are installed
    - dcmodify_command, gdcmanon_loop: the runs
    - trees_compare: two output trees, file by file, a zeroed preamble told apart

Dependencies:
    - the ``dcmodify`` and ``gdcmanon`` commands, where installed (``apt-get install dcmtk
      libgdcm-tools``)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DCMODIFY_LABEL: str = "dcmodify (DCMTK)"
GDCMANON_LABEL: str = "gdcmanon (GDCM)"
PREAMBLE_BYTES: int = 128
# (group, element), keyword, value: the README's elements, and what its regexes reach in the tree
PEER_ELEMENTS: tuple[tuple[int, int, str, str], ...] = (
    (0x0010, 0x0010, "PatientName", "ANON^PATIENT"),
    (0x0010, 0x0020, "PatientID", "ANON1234"),
    (0x0008, 0x0050, "AccessionNumber", "ANON5678"),
    (0x0010, 0x0030, "PatientBirthDate", "19000101"),
    (0x0008, 0x0090, "ReferringPhysicianName", "ANON"),
    (0x0008, 0x1050, "PerformingPhysicianName", "ANON"),
    (0x0008, 0x1060, "NameOfPhysiciansReadingStudy", "ANON"),
    (0x0008, 0x1048, "PhysiciansOfRecord", "ANON"),
    (0x0032, 0x1032, "RequestingPhysician", "ANON"),
    (0x0008, 0x0080, "InstitutionName", "InstitutionName"),
    (0x0008, 0x0081, "InstitutionAddress", "InstitutionAddress"),
    (0x0008, 0x1040, "InstitutionalDepartmentName", "InstitutionalDepartmentName"),
    (0x0010, 0x1040, "PatientAddress", "PatientAddress"),
)


def peers_available() -> dict[str, str]:
    """The peers installed: label to command path."""
    found: dict[str, str] = {}
    for label, command in ((DCMODIFY_LABEL, "dcmodify"), (GDCMANON_LABEL, "gdcmanon")):
        path: str | None = shutil.which(command)
        if path:
            found[label] = path
    return found


def dcmodify_command(dcmodify: str, inputDir: Path, outputDir: Path) -> list[str]:
    """``cp -r`` the tree, then ``dcmodify`` every copy in place, no backups, missing elements skipped."""
    modify: list[str] = [f"-ma {keyword}={value}" for _g, _e, keyword, value in PEER_ELEMENTS]
    script: str = (
        f'cp -r "$1" "$2" && find "$2" -type f -print0 | xargs -0 {dcmodify} -nb -imt -ie -q '
        + " ".join(f"'{part}'" for item in modify for part in item.split(" ", 1))
    )
    return ["sh", "-c", script, "dcmodify-run", str(inputDir), str(outputDir)]


def gdcmanon_arguments() -> list[str]:
    """``gdcmanon --dumb``'s replacements of the peer elements."""
    arguments: list[str] = []
    for group, element, _keyword, value in PEER_ELEMENTS:
        arguments += ["--replace", f"{group:04x},{element:04x}={value}"]
    return arguments


def gdcmanon_loop(gdcmanon: str, inputDir: Path, outputDir: Path) -> int:
    """Run ``gdcmanon --dumb`` on each file of a tree into the same place in another; the count."""
    count: int = 0
    replacements: list[str] = gdcmanon_arguments()
    for directory, _dirs, names in os.walk(inputDir):
        target: Path = outputDir / Path(directory).relative_to(inputDir)
        target.mkdir(parents=True, exist_ok=True)
        for name in sorted(names):
            command: list[str] = [gdcmanon, "--dumb", "--continue", "-i", os.path.join(directory, name)]
            subprocess.run([*command, "-o", str(target / name), *replacements], capture_output=True)
            count += 1
    return count


@dataclass
class TreeComparison:
    """Two output trees file by file: the same bytes, the same but for a zeroed preamble, other bytes."""

    identical: int = 0
    preambleZeroed: int = 0
    different: int = 0
    missing: int = 0

    @property
    def same(self) -> bool:
        return self.different == 0 and self.missing == 0

    def describe(self) -> str:
        return (
            f"{self.identical} identical, {self.preambleZeroed} identical but for the zeroed preamble, "
            f"{self.different} different, {self.missing} missing"
        )


def file_digests(path: str) -> tuple[bytes, bytes, bool]:
    """A file's digest, its digest past the preamble, and whether its preamble is all zero."""
    with open(path, "rb") as stream:
        data: bytes = stream.read()
    return (
        hashlib.sha256(data).digest(),
        hashlib.sha256(data[PREAMBLE_BYTES:]).digest(),
        not any(data[:PREAMBLE_BYTES]),
    )


def tree_files(root: Path) -> dict[str, tuple[bytes, bytes, bool]]:
    """Every file of a tree, by its relative path, with its digests."""
    found: dict[str, tuple[bytes, bytes, bool]] = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path: str = os.path.join(directory, name)
            found[os.path.relpath(path, root)] = file_digests(path)
    return found


def trees_compare(
    ours: dict[str, tuple[bytes, bytes, bool]], theirs: dict[str, tuple[bytes, bytes, bool]]
) -> TreeComparison:
    """This tool's outputs against another version's: a changed file's preamble may be zeroed here
    (this version zeroes a changed file's non-TIFF preamble; 4.0 kept it)."""
    comparison: TreeComparison = TreeComparison()
    for path, (whole, rest, _zero) in theirs.items():
        mine: tuple[bytes, bytes, bool] | None = ours.get(path)
        if mine is None:
            comparison.missing += 1
        elif mine[0] == whole:
            comparison.identical += 1
        elif mine[1] == rest and mine[2]:
            comparison.preambleZeroed += 1
        else:
            comparison.different += 1
    comparison.missing += len(set(ours) - set(theirs))
    return comparison
