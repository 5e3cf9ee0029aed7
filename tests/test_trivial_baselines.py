"""The trivial baselines: caption TF-IDF (checked against the formula) and seeded random vectors."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from encoders import REGISTRY


def test_caption_tfidf_matches_the_formula(tiny_dataset, tmp_path):
    """sklearn's smooth IDF: idf(w) = ln((1 + n) / (1 + df(w))) + 1; sublinear tf = 1 + ln(count);
    rows L2-normalised. Recomputed here from the train captions by hand."""
    enc = REGISTRY.get("caption-tfidf").from_profile("ci")
    report = enc.fit(tiny_dataset, seed=0, workdir=tmp_path)
    train = [tiny_dataset.caption(t).lower() for t in tiny_dataset.track_ids("train")]
    tokenise = __import__("re").compile(r"(?u)\b\w\w+\b").findall
    docs = [tokenise(c) for c in train]
    vocab = sorted({w for d in docs for w in d})
    assert report["vocabulary"] == len(vocab) == enc.output_dim()
    df = Counter(w for d in docs for w in set(d))
    idf = {w: math.log((1 + len(docs)) / (1 + df[w])) + 1 for w in vocab}
    tid = tiny_dataset.track_ids("test")[0]
    counts = Counter(w for w in tokenise(tiny_dataset.caption(tid).lower()) if w in idf)
    expected = np.zeros(len(vocab))
    for w, n in counts.items():
        expected[vocab.index(w)] = (1 + math.log(n)) * idf[w]
    expected /= np.linalg.norm(expected)
    got = enc.embed(tiny_dataset, [tid])[0]
    assert got.shape == (len(vocab),)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_random_vectors_depend_on_track_and_seed_only(tiny_dataset):
    ids = tiny_dataset.track_ids("test")[:6]
    enc = REGISTRY.get("random").from_profile("ci", {"seed": 3})
    x = enc.embed(tiny_dataset, ids)
    assert x.shape == (6, 256) and x.dtype == np.float32
    np.testing.assert_array_equal(enc.embed(tiny_dataset, ids[::-1])[::-1], x)  # order does not matter
    np.testing.assert_array_equal(enc.embed(tiny_dataset, ids[2:4]), x[2:4])  # nor the batch
    other = REGISTRY.get("random").from_profile("ci", {"seed": 4}).embed(tiny_dataset, ids)
    assert not np.allclose(other, x)
    assert abs(float(x.mean())) < 0.2 and 0.8 < float(x.std()) < 1.2
    with pytest.raises(ValueError, match="outside the allowed range"):
        REGISTRY.get("random").from_profile("ci", {"dim": 0})
