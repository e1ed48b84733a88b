# SPDX-License-Identifier: Apache-2.0
"""The reference results are found through importlib.resources (so a wheel carries them).

The package directory is replaced by a temporary one holding SYNTHETIC records
(tests/helpers/synthetic_records.py), so the test never writes into the checkout.
"""

from __future__ import annotations

import importlib.resources
import types
from pathlib import Path

import pytest

from helpers import synthetic_records as syn
from waitbench.errors import ResultsError
from waitbench.report import reference
from waitbench.results import ResultsWriter


@pytest.fixture
def package_dir(tmp_path, monkeypatch) -> Path:
    fake = types.SimpleNamespace(files=lambda package: tmp_path, as_file=importlib.resources.as_file)
    monkeypatch.setattr(reference, "resources", fake)
    return tmp_path


def test_the_real_lookup_points_into_the_package():
    root = importlib.resources.files("waitbench.report").joinpath(reference.REFERENCE_DIR)
    assert root.is_dir(), "python/waitbench/report/reference_data/ must exist (it ships in the wheel)"
    assert all(f.name.endswith(".jsonl") for f in reference.reference_files())


def test_no_reference_files_is_a_results_error(package_dir):
    (package_dir / reference.REFERENCE_DIR).mkdir()
    (package_dir / reference.REFERENCE_DIR / "README.md").write_text("not results")
    assert reference.reference_files() == []
    with pytest.raises(ResultsError, match="no reference results are installed"):
        reference.load_reference()


def test_reference_files_are_loaded_in_name_order(package_dir):
    (package_dir / reference.REFERENCE_DIR).mkdir()
    for name, run_id in (("b.jsonl", "second"), ("a.jsonl", "first")):
        with ResultsWriter(package_dir / reference.REFERENCE_DIR / name) as w:
            for rec in syn.synthetic_run(run_id):
                w.write(rec)
    assert [f.name for f in reference.reference_files()] == ["a.jsonl", "b.jsonl"]
    records = reference.load_reference()
    assert records[0]["run_id"] == "first" and records[-1]["run_id"] == "second"


def test_shipped_reference_files_are_the_committed_results() -> None:
    """The package's copies must not drift from the committed results the README quotes."""
    from pathlib import Path

    from waitbench.report.reference import COPIED_FROM, reference_files

    committed = Path(__file__).resolve().parents[2] / COPIED_FROM
    shipped = reference_files()
    assert shipped, "no reference results shipped"
    for f in shipped:
        assert f.read_bytes() == (committed / f.name).read_bytes(), f.name
