"""The results cache: keying, reuse, export/import, concurrent writers, killed writers, corrupt files; the store
tests run on both backends (a sqlite file and a real PostgreSQL server), the file-recovery tests on sqlite."""

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest

from benchmarks.core.device import SoftwareInfo
from benchmarks.core.persist import from_raw
from benchmarks.harness.results import (
    BenchmarkResult,
    BenchmarkSettings,
    PeakResult,
    StoredSettings,
    record_from_dict,
    record_to_json,
)
from benchmarks.harness.store import REFERENCE_DIR, ResultStore, read_export
from benchmarks.store.database import StoreUnavailable, head_revision
from tests import benchmark_fakes as fake
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(params=["sqlite", "postgresql"])
def new_db(request, tmp_path):
    """Makes a fresh, empty results database by name, on the backend of the test's parameter."""
    if request.param == "sqlite":
        return lambda name="r": tmp_path / f"{name}.sqlite"
    server = request.getfixturevalue("postgres")
    return lambda name="r": server.fresh_database()


def test_records_survive_a_json_round_trip():
    for rec in (fake.result("student", "int8-dynamic"), fake.peak("int8")):
        back = record_from_dict(json.loads(record_to_json(rec)))
        assert back == rec and back.key == rec.key


def test_the_key_covers_hardware_software_model_variant_and_settings():
    base = fake.result()
    same = fake.result()
    assert base.key == same.key
    variations = [
        replace(base, hardware=fake.GPU_BOX),
        replace(base, software=SoftwareInfo("3.11.7", "2.14.0", "5.23.0")),
        fake.result(fingerprint="other-weights"),
        fake.result(variant="int8-dynamic"),
        fake.result(settings=BenchmarkSettings(threads=1)),
        fake.result(settings=BenchmarkSettings(threads=2, cell_budget_s=2.0)),
        fake.result(device="cuda:0"),
        fake.result(role="student"),
    ]
    keys = {v.key for v in variations}
    assert base.key not in keys and len(keys) == len(variations)


def test_records_check_themselves():
    with pytest.raises(ValueError, match="variant"):
        fake.config(variant="int4")
    good = fake.result().cells[0]
    with pytest.raises(ValueError, match="ordered"):
        replace(good, model=replace(good.model, p90=good.model.p50 / 2))
    with pytest.raises(ValueError, match="real tokens"):
        replace(good, real_tokens=good.batch * good.seq_len + 1)
    with pytest.raises(ValueError):
        record_from_dict({"kind": "model", "schema": 999})


def test_same_key_is_reused_and_a_new_measurement_replaces_it(tmp_path, new_db):
    store = ResultStore(new_db())
    first = fake.result()
    store.put(first)
    assert store.get(first.key) == first and store.keys() == {first.key}
    newer = replace(first, measured_at="2026-12-01T00:00:00+00:00")
    store.put(newer)
    assert store.get(first.key) == newer and len(store.records()) == 1
    store.put(fake.peak())
    assert [type(r.record) for r in store.records("peak")] == [PeakResult]
    assert len(store.records("model", "pocket")) == 1 and store.records("model", "architecture") == []


def test_export_then_import_on_another_machine_keeps_both(tmp_path, new_db):
    gpu_box = ResultStore(new_db("gpu"))
    gpu_box.put_many(
        fake.pair_results(hardware=fake.GPU_BOX, device="cuda:0") + [fake.peak("bf16", 700_000, fake.GPU_BOX, "cuda:0")]
    )
    assert gpu_box.export(tmp_path / "gpu.json") == 3
    assert json.loads((tmp_path / "gpu.json").read_text())["hardware"] == ["GPU: NVIDIA H100 (80 GB)"]

    here = ResultStore(new_db("here"))
    here.put_many(fake.pair_results())
    assert here.import_file(tmp_path / "gpu.json") == (3, 0)
    assert here.import_file(tmp_path / "gpu.json") == (0, 3)  # existing keys are kept...
    assert here.import_file(tmp_path / "gpu.json", replace=True) == (3, 0)  # ...unless replace
    machines = {r.record.hardware.fingerprint for r in here.records("model")}
    assert machines == {fake.HARDWARE.fingerprint, fake.GPU_BOX.fingerprint}
    assert {r.origin for r in here.records() if r.record.hardware == fake.GPU_BOX} == {"imported: gpu.json"}


def test_a_bad_export_file_adds_nothing(tmp_path, new_db):
    store = ResultStore(new_db())
    good = fake.result().to_dict()
    (tmp_path / "half.json").write_text(
        json.dumps(
            {
                "format": "kd-benchmarks-export",
                "version": 1,
                "records": [{"origin": "measured", "record": good}, {"record": {"kind": "model"}}],
            }
        )
    )
    (tmp_path / "junk.json").write_text("not json")
    for name, message in (
        ("half.json", "record 1"),
        ("junk.json", "not a benchmark export"),
        ("missing.json", "does not exist"),
    ):
        with pytest.raises(ValueError, match=message):
            store.import_file(tmp_path / name)
    assert store.records() == []


def test_seed_imports_the_reference_folder_once(tmp_path, new_db):
    source = ResultStore(new_db("src"))
    source.put_many(fake.pair_results())
    ref = tmp_path / "reference"
    source.export(ref / "cpu.json")
    store = ResultStore(new_db())
    assert store.seed(ref) == 2 and store.seed(ref) == 0
    assert {r.origin for r in store.records()} == {"reference"}


WRITER = textwrap.dedent("""
    import sys
    from dataclasses import replace
    from benchmarks.harness.store import ResultStore
    from tests import benchmark_fakes as fake
    store = ResultStore(sys.argv[1])
    base = fake.result()
    for i in range(int(sys.argv[3])):
        store.put(replace(base, config=replace(base.config, fingerprint=f"{sys.argv[2]}-{i}")))
""")


def test_two_processes_writing_at_once_do_not_corrupt_the_cache(tmp_path):
    db = tmp_path / "r.sqlite"
    ResultStore(db)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), name, "60"], cwd=REPO) for name in ("a", "b")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    store = ResultStore(db)
    assert store.recovered is None and len(store.records()) == 120
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


SAME_CELLS = textwrap.dedent("""
    import sys
    from dataclasses import replace
    from benchmarks.harness.store import ResultStore
    from tests import benchmark_fakes as fake
    store = ResultStore(sys.argv[1])
    base = fake.result()
    cells = [replace(base, config=replace(base.config, fingerprint=f"cell-{i}")) for i in range(int(sys.argv[2]))]
    for start in range(0, len(cells), 50):  # a run stores each model as it lands: many small transactions
        store.put_many(cells[start:start + 50])
""")


def writers_of_the_same_cells(target, writers: int, cells: int) -> tuple[int, int]:
    """`writers` processes store the same `cells` cells at once; returns (rows lost, rows duplicated)."""
    ResultStore(target)
    procs = [subprocess.Popen([sys.executable, "-c", SAME_CELLS, str(target), str(cells)], cwd=REPO)
             for _ in range(writers)]
    assert [p.wait(timeout=300) for p in procs] == [0] * writers
    keys = [r.record.config.fingerprint for r in ResultStore(target).records("model")]
    expected = {f"cell-{i}" for i in range(cells)}
    return len(expected - set(keys)), len(keys) - len(set(keys))


@pytest.mark.slow
def test_four_writers_of_the_same_cells_lose_and_duplicate_nothing(new_db):
    assert writers_of_the_same_cells(new_db(), 4, 500) == (0, 0)


KILLED = textwrap.dedent("""
    import os, signal, sys
    from dataclasses import replace
    from benchmarks.harness.store import ResultStore
    from tests import benchmark_fakes as fake
    base = fake.result()
    def records():
        for i in range(50):
            yield replace(base, config=replace(base.config, fingerprint=f"k{i}"))
        os.kill(os.getpid(), signal.SIGKILL)  # dies inside the transaction, before COMMIT
    ResultStore(sys.argv[1]).put_many(records())
""")


def test_a_writer_killed_mid_transaction_leaves_no_partial_rows(new_db):
    db = new_db()
    ResultStore(db).put(fake.peak())
    proc = subprocess.run([sys.executable, "-c", KILLED, str(db)], cwd=REPO, timeout=120)
    assert proc.returncode == -9
    store = ResultStore(db)
    assert store.recovered is None
    assert [r.record.kind for r in store.records()] == ["peak"]


def test_a_file_written_before_migrations_upgrades_in_place(tmp_path):
    db = tmp_path / "r.sqlite"
    shutil.copy(FIXTURES / "results-before-alembic.sqlite", db)
    before = sqlite3.connect(db).execute("SELECT key, payload, origin, stored_at FROM records ORDER BY key").fetchall()
    store = ResultStore(db)
    assert store.recovered is None and len(before) == 48
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT key, payload, origin, stored_at FROM records ORDER BY key").fetchall() == before
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
    assert {r.origin for r in store.records()} == {"measured", "reference"}
    assert store.seed() == 0  # the shipped references were already there


def test_the_migrations_build_the_schema_the_code_reads(new_db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from benchmarks.store.schema import metadata

    store = ResultStore(new_db())
    with store.db.reading() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if d[0] != "remove_table"] == []  # alembic_version is Alembic's own


def test_an_unreachable_server_or_a_missing_driver_gets_one_sentence(tmp_path):
    with pytest.raises(StoreUnavailable, match="cannot be reached") as unreachable:
        ResultStore(f"postgresql+psycopg://kd:secret@/kd?host={tmp_path}&port=5449")
    assert "secret" not in str(unreachable.value) and "\n" not in str(unreachable.value)
    with pytest.raises(StoreUnavailable, match=r"pip install 'kd-dashboard\[cluster\]'"):
        ResultStore("postgresql+pg8000://kd@127.0.0.1/kd")


def test_a_garbage_file_is_set_aside_not_overwritten(tmp_path):
    db = tmp_path / "r.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    store = ResultStore(db)
    assert store.recovered and "could not be read" in store.recovered and "moved to" in store.recovered
    aside = list(tmp_path.glob("r.sqlite.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")
    store.put(fake.result())
    assert len(store.records()) == 1


def test_a_truncated_file_is_detected_and_rebuilt(tmp_path):
    db = tmp_path / "r.sqlite"
    store = ResultStore(db)
    base = fake.result()
    store.put_many(replace(base, config=replace(base.config, fingerprint=f"f{i}")) for i in range(40))
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = db.stat().st_size
    with db.open("r+b") as fh:
        fh.truncate(size // 2)
    reopened = ResultStore(db)
    assert reopened.recovered is not None
    assert reopened.records() == [] and list(tmp_path.glob("r.sqlite.corrupt-*"))


def test_a_foreign_sqlite_file_is_not_taken_over(tmp_path):
    db = tmp_path / "r.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE important (x)")
    conn.commit()
    conn.close()
    store = ResultStore(db)
    assert store.recovered and "not a results cache" in store.recovered
    aside = next(tmp_path.glob("r.sqlite.corrupt-*"))
    assert sqlite3.connect(aside).execute("SELECT name FROM sqlite_master").fetchone()[0] == "important"


def test_read_export_names_the_file(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="x.json"):
        read_export(tmp_path / "x.json")


def test_version_changes_when_rows_change(tmp_path, new_db):
    store = ResultStore(new_db())
    before = store.version()
    store.put(fake.result())
    assert store.version() != before
    assert isinstance(store.get(fake.result().key), BenchmarkResult)


def test_a_record_from_before_a_setting_existed_keeps_its_old_meaning():
    old = {k: v for k, v in fake.SETTINGS.__dict__.items() if k not in ("rounds", "keep_heap")}
    settings = from_raw(StoredSettings, old)
    assert settings.rounds == 1 and not settings.keep_heap  # measured the old way, not with today's defaults
    assert from_raw(StoredSettings, dict(fake.SETTINGS.__dict__)) == fake.SETTINGS


def _stored_part(written, stored):
    """`written` cut down to the keys `stored` has, at every depth: what a record writes back of what was read."""
    if isinstance(stored, dict):
        return {k: _stored_part(written.get(k), v) for k, v in stored.items()}
    if isinstance(stored, list) and isinstance(written, list) and len(written) == len(stored):
        return [_stored_part(w, s) for w, s in zip(written, stored)]
    return written


def test_every_shipped_record_reads_back_as_it_was_stored():
    checked = 0
    for path in sorted(REFERENCE_DIR.glob("*.json")):
        for entry in json.loads(path.read_text())["records"]:
            record = record_from_dict(entry["record"])
            written = json.loads(record_to_json(record))
            assert _stored_part(written, entry["record"]) == entry["record"], path.name
            checked += 1
    assert checked > 0
