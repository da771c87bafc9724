import hashlib

import pytest

from benchmarks.core.data import DataUnavailable, load_sst2, read_labelled_file
from tests.conftest import SST2


def test_tsv_and_csv_are_read():
    tsv = read_labelled_file(b"sentence\tlabel\ngood film \t1\nbad \"quoted\" film\t0\n", "x.tsv")
    assert tsv.texts == ("good film", 'bad "quoted" film') and tsv.labels == (1, 0)
    csv = read_labelled_file(b'\xef\xbb\xbftext,label\n"a, b",1\n', "x.csv")
    assert csv.texts == ("a, b",) and csv.labels == (1,)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"sentence\tscore\nx\t1\n", "needs a header"),
        (b"sentence\tlabel\nx\t2\n", "line 2: label must be 0 or 1"),
        (b"sentence\tlabel\n", "no rows"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
    ],
)
def test_bad_files_get_one_clear_sentence(content, message):
    with pytest.raises(ValueError, match=message):
        read_labelled_file(content, "upload.tsv")


def test_sst2_dev_ships_with_the_product(monkeypatch):
    monkeypatch.delenv("SST2_DIR", raising=False)
    dev = load_sst2("validation")
    assert len(dev) == 872 and sum(dev.labels) == 444 and "data/sst2" in dev.source
    assert load_sst2("dev", SST2).texts == dev.texts
    digest = hashlib.sha256((SST2 / "dev.tsv").read_bytes()).hexdigest()
    assert digest in (SST2 / "README.md").read_text()  # the provenance note names the exact file


def test_sst2_dir_overrides_the_shipped_copy(monkeypatch, tmp_path):
    (tmp_path / "dev.tsv").write_text("sentence\tlabel\nfine\t1\n")
    monkeypatch.setenv("SST2_DIR", str(tmp_path))
    assert load_sst2("validation").texts == ("fine",)
    assert load_sst2("validation", SST2).texts != ("fine",)  # --data wins over SST2_DIR


@pytest.mark.parametrize("split, env", [("validation", "folder without dev.tsv"), ("train", None)])
def test_missing_data_offline_says_what_to_do(monkeypatch, tmp_path, split, env):
    if env:
        monkeypatch.setenv("SST2_DIR", str(tmp_path))
    else:
        monkeypatch.delenv("SST2_DIR", raising=False)  # train is never shipped
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataUnavailable, match="SST2_DIR") as err:
        load_sst2(split)
    assert str(tmp_path) not in str(err.value)
