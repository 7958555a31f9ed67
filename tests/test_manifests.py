import hashlib
import importlib
import re

import pytest
import yaml

from brainbridge.loaders import _manifests as manifests
from brainbridge.loaders import dataset_info, datasets, fetch

NAMES = sorted(manifests._manifest_files())


def test_datasets_table():
    table = datasets()
    assert list(table.columns) == ["name", "title", "modality", "license", "n_files", "where",
                                   "checksums"]
    assert list(table["name"]) == NAMES
    assert {"cect-connectomes", "randi2023-funatlas", "nitime-grasshopper", "nitime-fmri",
            "matplotlib-eeg", "skimage-images", "eegmmidb", "haxby2001-openneuro",
            "dandi000054-ophys", "celegans-homogenized"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_manifest_schema_and_loader(name):
    info = dataset_info(name)
    assert info["name"] == name
    module, _, attr = info["loader"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), attr))


@pytest.mark.parametrize("name", [n for n in NAMES if all("package" in f for f in
                                                          dataset_info(n)["files"])])
def test_packaged_files_match_their_sha256(name):
    paths = fetch(name)
    for entry in dataset_info(name)["files"]:
        digest = hashlib.sha256(paths[entry["name"]].read_bytes()).hexdigest()
        assert digest == entry["sha256"]
        assert paths[entry["name"]].stat().st_size == entry["size"]


def test_check_manifest_lists_every_problem():
    bad = {"name": "x", "title": "t", "modality": "brain", "citation": "c", "license": "l",
           "loader": "nope", "files": [{"name": "a", "url": "u", "sha256": "ABC"},
                                       {"name": "a", "package": "p", "sha256": None},
                                       {"name": "b", "url": "u", "sha256": None}]}
    msg = ("Invalid dataset manifest x.yaml:\n"
           "  - missing key 'version'\n"
           "  - 'modality' is 'brain'; expected one of eeg, meg, fmri, calcium, ephys, celegans, "
           "stimuli\n"
           "  - 'loader' must be a dotted path like 'brainbridge.loaders.load_eeg'; got 'nope'\n"
           "  - files[0] (a): 'sha256' must be 64 lower-case hex digits; got 'ABC'\n"
           "  - files[1]: name 'a' repeats\n"
           "  - files[1] (a) needs both 'package' and 'path'\n"
           "  - files[1] (a): a null 'sha256' needs a 'url' and a 'checksum_note'\n"
           "  - files[2] (b): a null 'sha256' needs a 'url' and a 'checksum_note'")
    with pytest.raises(ValueError, match=re.escape(msg)):
        manifests.check_manifest(bad, "x.yaml")


def test_unknown_dataset():
    with pytest.raises(ValueError, match=re.escape("Did you mean 'eegmmidb'?")):
        fetch("eegmmid")


def test_local_file_with_wrong_checksum_is_reported_and_kept(tmp_path):
    target = tmp_path / "S001" / "S001R01.edf"
    target.parent.mkdir()
    target.write_bytes(b"not an edf")
    expected = dataset_info("eegmmidb")["files"][0]["sha256"]
    got = hashlib.sha256(b"not an edf").hexdigest()
    msg = (f"Checksum mismatch for {str(target)!r} (file 'S001/S001R01.edf' of dataset "
           f"'eegmmidb'): expected sha256 {expected}, got {got}. The file was left in place; it "
           "may be truncated or a different version. Delete it and fetch again, or put the right "
           "file there.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        fetch("eegmmidb", files=["S001/S001R01.edf"], dest=tmp_path)
    assert target.read_bytes() == b"not an edf"


def test_offline_download_says_where_to_put_the_file(tmp_path, monkeypatch):
    def offline(url, target, sha256, progress):
        raise ConnectionError("no network")

    monkeypatch.setattr(manifests, "_download", offline)
    url = "https://physionet.org/files/eegmmidb/1.0.0/S001/S001R02.edf"
    target = tmp_path / "S001" / "S001R02.edf"
    msg = (f"Could not download 'S001/S001R02.edf' of dataset 'eegmmidb' from {url} (no network). "
           f"Download it by other means and put it at {str(target)!r}; fetch checks it by sha256.")
    with pytest.raises(OSError, match=re.escape(msg)):
        fetch("eegmmidb", files=["S001/S001R02.edf"], dest=tmp_path, progress=False)


def test_unpinned_file_is_pinned_on_first_download(tmp_path, monkeypatch):
    calls = []

    def fake(url, target, sha256, progress):
        calls.append((url, sha256))
        target.write_bytes(b"parquet bytes")

    monkeypatch.setattr(manifests, "_download", fake)
    note = dataset_info("celegans-homogenized")["files"][0]["checksum_note"]
    msg = (f"File 'worm_data_short.parquet' of dataset 'celegans-homogenized' has no published "
           f"sha256 ({note}). Pass allow_unpinned=True (CLI: --allow-unpinned) to download it "
           "and pin the hash of this first download for every later use.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        fetch("celegans-homogenized", dest=tmp_path)
    paths = fetch("celegans-homogenized", dest=tmp_path, allow_unpinned=True, progress=False)
    assert paths["worm_data_short.parquet"].read_bytes() == b"parquet bytes"
    pins = yaml.safe_load((tmp_path / manifests.PINS_FILE).read_text())
    assert pins == {"worm_data_short.parquet": hashlib.sha256(b"parquet bytes").hexdigest()}
    assert calls == [(dataset_info("celegans-homogenized")["files"][0]["url"], None)]
    fetch("celegans-homogenized", dest=tmp_path)  # pinned now: verified without a download
    assert len(calls) == 1
    (tmp_path / "worm_data_short.parquet").write_bytes(b"tampered")
    with pytest.raises(ValueError, match="Checksum mismatch"):
        fetch("celegans-homogenized", dest=tmp_path)
