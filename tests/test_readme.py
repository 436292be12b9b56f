"""The README is the first thing a new user reads: it must render, and say what SPEC says."""

from __future__ import annotations

import docutils.core
import docutils.utils

from tests.conftest import REPO

README: str = (REPO / "README.rst").read_text(encoding="utf-8")


def test_the_readme_renders_without_warnings() -> None:
    docutils.core.publish_doctree(README, settings_overrides={"report_level": 2, "halt_level": 2})


def test_the_readme_gives_the_install_and_test_commands_ci_runs() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert "pip install . && pfdicom_tagSub -I examples/dicom -O anon --profile basic --verify" in README
    assert "pip install '.[test,dask]' && python -m pytest" in README
    assert "'.[test,dask]'" in ci and "python -m pytest" in ci


def test_the_readme_s_option_table_gives_each_option_s_rows_and_code_as_the_table_file_has_them() -> None:
    from tests.test_profile_options import OPTIONS, rows

    for option, (column, code, _) in OPTIONS.items():
        actions = [row[column] for row in rows() if column in row]
        changed = ", ".join(f"{actions.count(letter)} {letter}" for letter in "KC" if letter in actions)
        assert f"   * - ``{option}``\n     - {changed}\n     - {code}\n" in README


def test_the_manual_lists_every_option_with_its_code() -> None:
    from pfdicom_tagSub.manual import MANUAL
    from tests.test_profile_options import OPTIONS

    for option, (_, code, _) in OPTIONS.items():
        assert f"        {option} ({code})" in MANUAL
