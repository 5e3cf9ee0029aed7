"""ItemKNN scoring + masked top-40 against the matrix product alone, and the masked top-K
alone (:mod:`benchmark.core.ranking`). Target: scoring + top-40 within 1.25× of the product
at 1,000 playlists × 100,000 candidates × 256-d (``ItemKNN``); ``ItemKNNQuick`` is the
same at 1/10 of the candidates and queries."""

from benchmark.core.ranking import topk_masked
from benchmark.harness.throughput import itemknn_case, itemknn_product, itemknn_rank
from recommenders.itemknn import ItemKNN as _ItemKNN


class ItemKNN:
    """1,000 playlists × 100,000 candidates × 256-d, k = 40."""

    size = (1_000, 100_000, 256)
    processes = 1
    repeat = (3, 5, 60.0)
    number = 1
    #: steady state: the first call in a fresh process (thread pool, first touch of pages)
    #: took 0.77-0.85 s against 0.42-0.48 s after it, and asv's median of 2-3 samples then
    #: reported a cold/warm mixture; both sides of the ratio get the same warm-up
    warmup_time = 1.0
    timeout = 300

    def setup(self):
        self.seeds, self.cand = itemknn_case(*self.size)
        self.scores = _ItemKNN().score(self.seeds[:256], self.cand)

    def time_score_topk(self):
        """ItemKNN scoring + masked top-40 of every playlist (``rank``)."""
        itemknn_rank(self.seeds, self.cand, k=40)

    def time_product_only(self):
        """ItemKNN scoring alone (pooling + matrix product), in ``rank``'s batches of 256."""
        itemknn_product(self.seeds, self.cand)

    def time_masked_topk_only(self):
        """``topk_masked`` alone on precomputed scores: the ranking work of ``rank``."""
        n = len(self.seeds)
        for start in range(0, n, 256):
            topk_masked(self.scores[: min(256, n - start)], self.seeds[start:start + 256], 40)

    def peakmem_score_topk(self):
        itemknn_rank(self.seeds, self.cand, k=40)


class ItemKNNQuick(ItemKNN):
    """100 playlists × 10,000 candidates × 256-d (the quick subset)."""

    size = (100, 10_000, 256)
    repeat = (3, 5, 20.0)
