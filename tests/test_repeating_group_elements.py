"""Rules on repeating-group elements (overlays, groups 6000-601E), whose keyword names no single tag."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydicom.dataset import Dataset

from tests.conftest import dcm, pydicomFile, tree_make


def overlay_file() -> Dataset:
    """pydicom's CT_small.dcm with two overlay planes, each with its own description and label."""
    ds: Dataset = dcm(pydicomFile("CT_small.dcm"))
    ds.add_new(0x60000022, "LO", "Dr. House's measurements")
    ds.add_new(0x60001500, "LO", "HOUSE")
    ds.add_new(0x60020022, "LO", "Second plane")
    return ds


def test_a_regex_hash_of_an_overlay_description_replaces_each_plane_by_its_own_value(
    tmp_path: Path, cli
) -> None:
    tree_make(tmp_path / "in", {"f.dcm": overlay_file()})
    rules: dict[str, str] = {"re:Overlay(Description|Label)$": "%_md5|6_#tag"}
    run = cli(tmp_path / "in", tmp_path / "out", "-T", json.dumps(rules))
    out: Dataset = dcm(tmp_path / "out" / "f.dcm")
    assert run.code == 0, run.err
    assert out[0x60000022].value == hashlib.md5(b"Dr. House's measurements").hexdigest()[:6]
    assert out[0x60001500].value == hashlib.md5(b"HOUSE").hexdigest()[:6]
    assert out[0x60020022].value == hashlib.md5(b"Second plane").hexdigest()[:6]
    assert "not applied" not in run.err


def test_an_explicit_overlay_key_is_refused_with_the_regex_that_does_it(tmp_path: Path, cli) -> None:
    tree_make(tmp_path / "in", {"f.dcm": overlay_file()})
    refused = cli(tmp_path / "in", tmp_path / "out", "-T", '{"OverlayDescription": "ANON"}')
    assert refused.code == 2
    assert (
        'OverlayDescription: a repeating-group keyword names no single element; use "re:^OverlayDescription$"'
        in (refused.err)
    )
    assert not (tmp_path / "out").exists()
    done = cli(tmp_path / "in", tmp_path / "out", "-T", '{"re:^OverlayDescription$": "ANON"}')
    out: Dataset = dcm(tmp_path / "out" / "f.dcm")
    assert (done.code, out[0x60000022].value, out[0x60020022].value) == (0, "ANON", "ANON")
