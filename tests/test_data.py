import pytest

from benchmarks import data
from benchmarks.data import DataUnavailable, load_sst2, read_labelled_file
from tests.conftest import SST2, needs_sst2


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


@needs_sst2
def test_sst2_dev_from_local_tsv():
    dev = load_sst2("validation", SST2)
    assert len(dev) == 872 and sum(dev.labels) == 444
    assert load_sst2("dev", SST2).texts == dev.texts


def test_missing_data_offline_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("SST2_DIR", str(tmp_path))  # no dev.tsv there
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(data, "DEFAULT_SST2_DIR", tmp_path)
    with pytest.raises(DataUnavailable, match="SST2_DIR"):
        load_sst2("validation")
