"""Throughput: the workloads that the asv suite (``benchmarks/asv_suite``) times and the
throughput study (``benchmark/studies/throughput.py``) records (docs/throughput.md).

One place per workload: the asv benchmarks build their inputs with the functions here and
time the same calls that :func:`measure` times for the study's records.

- encoders: a generated dataset of short clips (:func:`clips_dataset`); each encoder at a
  profile's configuration, trained for one step at most (:func:`prepare_encoder`:
  throughput does not depend on how long it trained), then ``embed`` timed whole and, where
  the encoder can be split (:meth:`encoders.base.Encoder.embed_stages`), front end
  (decode + resample + features) and model forward on precomputed features;
- recommenders: fit and scoring time on a synthetic world (:func:`synthetic_world`);
- ItemKNN scoring + masked top-K at 1,000 playlists × 100,000 candidates × 256-d
  (:func:`itemknn_case`) beside the matrix product alone.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.dataset import Dataset, Track, write_dataset
from benchmark.core.results import iter_records, write_record
from benchmark.core.study import Study

CLIP_SR, CLIP_SECONDS = 16000, 10.0
#: clips per split of :func:`clips_dataset`: 96 train tracks give LARP's stage 2 enough pairs
#: to fill one batch at quick (32; 32 train tracks gave 16 pairs)
CLIP_SPLITS = {"train": 96, "valid": 8, "test": 24, "pretrain": 8}
#: config overrides that cut training to one step or epoch (where the encoder has the key)
ONE_STEP = {"max_steps": 1, "pt_max_steps": 1, "max_epochs": [1, 1, 1], "epochs": 1, "pt_epochs": 1,
            "progress": False}
THROUGHPUT_DATASET = "throughput-clips"


# ----------------------------------------------------------------------------- inputs
def clips_dataset(root: str | Path, splits: dict[str, int] | None = None, *, sample_rate: int = CLIP_SR,
                  seconds: float = CLIP_SECONDS) -> Dataset:
    """A generated dataset of tonal clips (FLAC) with playlists in train, valid and test;
    written once under ``root`` (reused when its manifest exists)."""
    import soundfile as sf

    root = Path(root)
    if (root / "manifest.json").is_file():
        return Dataset(root)
    splits = dict(CLIP_SPLITS if splits is None else splits)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(sample_rate * (seconds + 0.5))) / sample_rate
    tracks: list[Track] = []
    for split, n in splits.items():
        for _ in range(n):
            i = len(tracks)
            f0 = 110 * 2 ** ((i % 36) / 12)
            wav = 0.3 * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * (1 + i % 3) * t))
            wav = (wav + 0.02 * rng.standard_normal(t.shape)).astype(np.float32)
            sf.write(root / f"audio/{i:03d}.flac", wav, sample_rate, format="FLAC")
            tracks.append(Track(f"t{i:03d}", f"Song {i}", f"Artist {i % 4}", f"Album {i % 3}",
                                f"audio/{i:03d}.flac", 0.25, split))
    playlists = []
    for split in ("train", "valid", "test"):
        ids = [tr.track_id for tr in tracks if tr.split == split]
        size = max(4, len(ids) // 4)
        for j, start in enumerate(range(0, len(ids), size // 2)):
            chunk = ids[start:start + size]
            if len(chunk) >= 4:
                playlists.append((f"{split}{j}", split, chunk))
    write_dataset(root, name=THROUGHPUT_DATASET, source="benchmark.harness.throughput", sample_rate=sample_rate,
                  clip_seconds=seconds, tracks=tracks, playlists=playlists)
    return Dataset(root)


def embed_ids(dataset: Dataset) -> list[str]:
    """The clips every encoder embeds: the test split."""
    return dataset.track_ids("test")


def prepare_encoder(name: str, profile: str, dataset: Dataset, workdir: str | Path) -> Any:
    """The encoder ``name`` at ``profile``'s configuration, trained one step at most.
    Raises :class:`encoders.EncoderUnavailable` when it cannot run here."""
    from encoders import REGISTRY

    cls = REGISTRY.get(name)
    enc = cls.from_profile(profile, {k: v for k, v in ONE_STEP.items() if k in cls.default_config})
    enc.check_available()
    enc.check_dataset(dataset)
    if enc.meta.trains:
        import inspect

        from benchmark.harness.validators import encoder_validator

        kw = ({"validator": encoder_validator(dataset)}
              if "validator" in inspect.signature(enc.fit).parameters else {})
        enc.fit(dataset, seed=0, workdir=Path(workdir) / "fit", **kw)
    return enc


def n_parameters(obj: Any) -> int | None:
    """Parameters of the torch modules an encoder or recommender holds (``None``: none)."""
    import torch

    seen: set[int] = set()
    total, found = 0, False
    todo = [v for v in vars(obj).values()]
    while todo:
        v = todo.pop()
        if isinstance(v, torch.nn.Module):
            found = True
            for p in v.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    total += p.numel()
        elif isinstance(v, (list, tuple)):
            todo.extend(v)
        elif hasattr(v, "__dict__") and type(v).__module__.startswith(("encoders", "recommenders")):
            todo.extend(vars(v).values())
    return total if found and total else None


def synthetic_world(seed: int = 0, n_train: int = 3000, n_valid: int = 1000, n_clusters: int = 20,
                    dim: int = 256, playlists_per_track: float = 1.4, length: tuple[int, int] = (20, 100),
                    purity: float = 0.8, noise: float = 4.0) -> tuple[Any, Any, np.ndarray]:
    """A synthetic ``TrainData`` plus validation queries and their candidate vectors: tracks
    in clusters (content = centroid·0.5 + noise), playlists drawing ``purity`` of their
    tracks from one cluster. The default is the ``quick`` scale."""
    from benchmark.core.protocol import QuerySet, n_seeds
    from recommenders import TrainData

    rng = np.random.default_rng(seed)
    centroids = 0.5 * rng.standard_normal((n_clusters, dim)).astype(np.float32)

    def split(n_tracks: int) -> tuple[np.ndarray, list[np.ndarray]]:
        clusters = rng.integers(0, n_clusters, n_tracks)
        vecs = (centroids[clusters] + noise * rng.standard_normal((n_tracks, dim))).astype(np.float32)
        pools = [np.flatnonzero(clusters == c) for c in range(n_clusters)]
        n_pl = max(2, round(n_tracks * playlists_per_track / (sum(length) / 2)))
        pls = []
        for _ in range(n_pl):
            c = int(rng.integers(n_clusters))
            n = min(int(rng.integers(length[0], length[1] + 1)), n_tracks)
            n_in = min(round(n * purity), len(pools[c]))
            picked = np.concatenate([rng.choice(pools[c], n_in, replace=False),
                                     rng.choice(n_tracks, n - n_in, replace=False)])
            pls.append(np.unique(picked).astype(np.int64))
        return vecs, pls

    vecs, pls = split(n_train)
    train = TrainData([f"t{i}" for i in range(n_train)], vecs, pls, [f"p{i}" for i in range(len(pls))])
    cv, cp = split(n_valid)
    seeds, gts = [], []
    for p in cp:
        perm = rng.permutation(p)
        s = n_seeds(len(p))
        seeds.append(perm[:s])
        gts.append(perm[s:])
    valid = QuerySet("valid", [f"v{i}" for i in range(n_valid)], [f"vp{i}" for i in range(len(cp))],
                     seeds, gts, 0)
    return train, valid, cv


#: (artists, mean degree, artists per scene) of the generated worlds at each size
ARTIST_SHAPES = {"ci": (666, 3.8, 8), "artists": (3438, 66.0, 100)}


def artist_scene_world(n: int, mean_degree: float, per_scene: int, dim: int = 128,
                       seed: int = 0) -> tuple[Any, np.ndarray]:
    """The artist-GNN workload (asv ``ArtistGNNFeatureSet``): an ``ArtistGraph`` of ``n``
    artists whose relations mostly (65 %) join artists of one scene, and ``[n, dim]``
    features: the scene's random centre plus unit noise."""
    from benchmark.core.artist_graph import ArtistGraph

    rng = np.random.default_rng(seed)
    scene = rng.integers(0, max(1, n // per_scene), n)
    m = round(n * mean_degree / 2)  # distinct relations wanted
    order = np.argsort(scene, kind="stable")
    start = np.searchsorted(scene[order], np.arange(scene.max() + 1))
    size = np.bincount(scene, minlength=scene.max() + 1)
    pairs = np.zeros((0, 2), dtype=np.int64)
    while len(pairs) < m:  # draw until m distinct non-self pairs (duplicates are frequent in small scenes)
        a = rng.integers(0, n, 2 * m)
        same = rng.random(2 * m) < 0.65
        mate = order[start[scene[a]] + (rng.random(2 * m) * size[scene[a]]).astype(np.int64)]
        b = np.where(same, mate, rng.integers(0, n, 2 * m))
        drawn = np.sort(np.stack([a, b], axis=1), axis=1)
        pairs = np.unique(np.concatenate([pairs, drawn[drawn[:, 0] != drawn[:, 1]]]), axis=0)
    pairs = pairs[np.sort(rng.choice(len(pairs), m, replace=False))]
    graph = ArtistGraph(tuple(f"a{i:05d}" for i in range(n)), pairs.astype(np.int64), np.ones(len(pairs)))
    centres = rng.standard_normal((scene.max() + 1, dim))
    return graph, centres[scene] + rng.standard_normal((n, dim))


def itemknn_case(n_queries: int = 1_000, n_candidates: int = 100_000, dim: int = 256, n_seeds: int = 50,
                 seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Random float32 candidates and ``n_queries`` seed sets of 40–60 tracks (mean ``n_seeds``)."""
    rng = np.random.default_rng(seed)
    cand = rng.standard_normal((n_candidates, dim), dtype=np.float32)
    sizes = rng.integers(max(1, n_seeds - 10), n_seeds + 11, n_queries)
    return [rng.choice(n_candidates, int(s), replace=False) for s in sizes], cand


def itemknn_product(seeds: Sequence[np.ndarray], cand: np.ndarray, batch_size: int = 256) -> None:
    """ItemKNN's scoring alone (pooling + matrix product), in :func:`rank`'s batches."""
    from recommenders.itemknn import ItemKNN

    rec = ItemKNN()
    for start in range(0, len(seeds), batch_size):
        rec.score(seeds[start:start + batch_size], cand)


def itemknn_rank(seeds: Sequence[np.ndarray], cand: np.ndarray, k: int = 40) -> np.ndarray:
    """ItemKNN scoring + masked top-``k`` (:func:`benchmark.core.ranking.rank`)."""
    from benchmark.core.ranking import rank
    from recommenders.itemknn import ItemKNN

    return rank(ItemKNN().score, seeds, cand, k=k)


# ----------------------------------------------------------------------------- timing
def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def encoder_timings(enc: Any, dataset: Dataset, ids: Sequence[str], repeats: int = 3) -> dict[str, Any]:
    """Seconds for ``embed`` whole and, where it splits, front end and forward alone, on the
    same clips (after one warm-up ``embed`` of two clips); the least of ``repeats`` runs,
    interleaved, so a busy moment of a shared machine hits one run, not one stage."""
    from benchmark.core.runtime import torch_threads

    with torch_threads(enc.config.get("num_threads")):  # the thread count embed() itself sets
        return _encoder_timings(enc, dataset, ids, repeats)


def _encoder_timings(enc: Any, dataset: Dataset, ids: Sequence[str], repeats: int) -> dict[str, Any]:
    enc.embed(dataset, list(ids[:2]))  # lazy modules, oneDNN primitives
    out: dict[str, Any] = {"clips": len(ids), "repeats": repeats}
    stages = enc.embed_stages(dataset)
    best: dict[str, float] = {}
    emb = None
    for _ in range(repeats):
        if stages is not None:
            t_front, feats = _timed(lambda: stages.frontend(dataset, ids))
            t_fwd, _ = _timed(lambda f=feats: stages.forward(f))
            best["frontend_s"] = min(best.get("frontend_s", t_front), t_front)
            best["forward_s"] = min(best.get("forward_s", t_fwd), t_fwd)
            del feats
            if stages.reset is not None:
                stages.reset()
        t_embed, emb = _timed(lambda: enc.embed(dataset, ids))
        best["embed_s"] = min(best.get("embed_s", t_embed), t_embed)
    out.update(best)
    if stages is not None:
        out["split_note"] = stages.note
    out["dim"] = int(emb.shape[1])
    out["clips_per_s"] = len(ids) / out["embed_s"]
    out["split"] = stages is not None
    if stages is not None:
        out["embed_over_stages"] = out["embed_s"] / (out["frontend_s"] + out["forward_s"])
    return out


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (MiB)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 / 1024 if sys.platform == "darwin" else r / 1024


def measure_encoder(name: str, profile: str, workdir: str | Path) -> dict[str, Any]:
    """The throughput of one encoder (run it in a fresh process, so the peak memory is its)."""
    from encoders import EncoderUnavailable

    workdir = Path(workdir)
    os.environ.setdefault("LARPBENCH_CACHE", str(workdir / "cache"))
    dataset = clips_dataset(workdir / "clips")
    try:
        t_fit, enc = _timed(lambda: prepare_encoder(name, profile, dataset, workdir / name))
    except EncoderUnavailable as e:
        return {"status": "unavailable", "reason": str(e)}
    rec: dict[str, Any] = {"status": "ok", "version": enc.meta.version, "trains": enc.meta.trains,
                           "modalities": list(enc.meta.modalities), "one_step_fit_s": t_fit}
    rec.update(encoder_timings(enc, dataset, embed_ids(dataset)))
    rec["parameters"] = n_parameters(enc)
    rec["peak_rss_mib"] = peak_rss_mib()
    return rec


def measure_encoder_isolated(name: str, profile: str, workdir: str | Path) -> dict[str, Any]:
    """:func:`measure_encoder` in a fresh Python process (``python -m
    benchmark.harness.throughput``), so its peak memory is the encoder's alone."""
    res = Path(workdir) / f"{name}.json"
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, "-m", "benchmark.harness.throughput", "encoder", name, profile,
                           str(workdir), str(res)], capture_output=True, text=True, env=env, cwd=root)
    if proc.returncode == 0 and res.is_file():
        return dict(json.loads(res.read_text()))
    return {"status": "failed", "reason": (proc.stderr or proc.stdout).strip()[-2000:]}


def larp_training(profile: str, workdir: str | Path, epochs: int = 1) -> dict[int, dict[str, Any]]:
    """LARP's three stages at ``profile``'s model config for ``epochs`` epoch(s) each on
    :func:`clips_dataset`: training samples (tracks in stage 1, pairs in stages 2-3) per
    second of stage wall time (per-epoch validation included)."""
    from encoders import REGISTRY
    from encoders._larp.train import LarpTrainer

    workdir = Path(workdir)
    os.environ.setdefault("LARPBENCH_CACHE", str(workdir / "cache"))
    dataset = clips_dataset(workdir / "clips")
    enc = REGISTRY.get("larp").from_profile(profile, {"max_epochs": [epochs] * 3, "progress": False})
    from benchmark.harness.validators import encoder_validator

    trainer = LarpTrainer(dataset, enc.larp_config, 0, validator=encoder_validator(dataset))
    out = {}
    for r in trainer.run(3):
        steps = trainer.steps_per_epoch(r.stage)
        samples = steps * int(trainer.cfg["batch_size"]) * r.epochs_run
        out[r.stage] = {"samples": samples, "wall_s": r.wall_s, "samples_per_s": samples / r.wall_s,
                        "epochs": r.epochs_run, "batch_size": int(trainer.cfg["batch_size"])}
    return out


def build_synth(root: str | Path, preset: str = "mpd", size: str = "tiny") -> dict[str, Any]:
    """Build a synthetic dataset; clips rendered per second of wall time."""
    from benchmark.data.synth.generate import build

    t, _ = _timed(lambda: build(root, preset=preset, size=size, progress=False))
    n = len(Dataset(root).tracks)
    return {"clips": n, "wall_s": t, "clips_per_s": n / t}


def measure_recommender(name: str, profile: str, scale: dict[str, Any]) -> dict[str, Any]:
    """Fit time (with validation) and scoring + top-40 time of one recommender on the
    synthetic world of ``scale``."""
    import torch

    from benchmark.core.evaluation import make_validator
    from benchmark.core.ranking import rank
    from recommenders import REGISTRY

    train, valid, cv = synthetic_world(**scale)
    rec = REGISTRY.get(name).from_profile(profile)
    t_fit, report = _timed(lambda: rec.fit(train, seed=0, validator=make_validator(valid, cv)))
    t_score, _ = _timed(lambda: rank(rec.score, valid.seeds, cv, k=40))
    return {"status": "ok", "version": rec.meta.version, "trains": rec.meta.trains, "fit_s": t_fit,
            "epochs_run": report.get("epochs_run"), "score_s": t_score, "queries": len(valid.seeds),
            "candidates": int(cv.shape[0]), "queries_per_s": len(valid.seeds) / t_score,
            "train_tracks": len(train.item_ids), "train_playlists": len(train.playlists),
            "parameters": n_parameters(rec), "torch_threads": torch.get_num_threads()}


#: the synthetic world of the recommender rows, per profile
RECOMMENDER_SCALE = {"ci": {"n_train": 600, "n_valid": 300, "dim": 64},
                     "quick": {}, "paper": {"n_train": 20000, "n_valid": 5000}}


def machine() -> dict[str, Any]:
    """Where and when a throughput record was measured: CPU, threads, library versions,
    load, date and the git commit of the code."""
    import torch

    from benchmark.core.provenance import git_state

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"cpu": cpu, "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "load_average": load,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "git": git_state()}


def _fit_times(results_dir: Path, profile: str) -> dict[str, dict[str, Any]]:
    """Encoder training wall time from the grid's cell records, the largest per encoder,
    with the dataset: the sum of the stages' wall times of a staged fit report (LARP; a
    stage reused from the cache carries the time it took when it was trained), else the
    cell's ``wall_time_s.fit_s``."""
    out: dict[str, dict[str, Any]] = {}
    for r in iter_records(results_dir, profile, kinds=["cell"], errors=[]):
        meta = (r.get("encoder") or {}).get("meta") or {}
        stages = (r.get("encoder_fit") or {}).get("stages") or []
        if stages and all(isinstance(s, dict) and "wall_s" in s for s in stages):
            fit = float(sum(s["wall_s"] for s in stages))
        else:
            fit = (r.get("wall_time_s") or {}).get("fit_s")
        if fit is None or not meta.get("trains") or r.get("status") != "ok":
            continue
        name = r["cell"]["encoder"]
        if name not in out or fit > out[name]["fit_s"]:
            out[name] = {"fit_s": fit, "dataset": r["cell"]["dataset"]}
    return out


#: encoders whose network and ``embed()`` path are another's (only their training stops at an
#: earlier stage): timing them again would measure the same code; that encoder's row stands for them
SAME_EMBED_PATH = {"larp-wtc": "larp", "larp-ttc": "larp", "larp-tpc": "larp"}


def profile_encoders(profile: str) -> list[str]:
    """Every encoder with a configuration for ``profile``: those of its default grid and those
    configured for it but left out of the grid for their training cost (LARP at quick);
    oracles excepted (they read ground truth: nothing to time), and LARP's stage variants
    (:data:`SAME_EMBED_PATH`)."""
    from encoders import REGISTRY

    out = []
    for name in REGISTRY.names():
        cls = REGISTRY.get(name)
        if "oracle" in cls.meta.tags or name in SAME_EMBED_PATH:
            continue
        if profile in cls.default_profiles or profile in cls.profile_configs:
            out.append(name)
    return out


def measure(study: Study, profile: str, results_dir: str | Path, *, encoders: Sequence[str] | None = None,
            progress: bool = True) -> list[Path]:
    """The throughput study's run: one ``throughput`` record per encoder and per recommender
    of the profile, under ``results/<profile>/throughput/``. Each encoder runs in a fresh
    process (``python -m benchmark.harness.throughput``)."""
    from benchmark.harness.grid import GridConfig

    results_dir = Path(results_dir)
    out_dir = results_dir / profile / "throughput"
    grid = GridConfig(profile=profile, encoders=list(encoders or profile_encoders(profile))).resolved()
    enc_names = list(grid.encoders)
    host, fits = machine(), _fit_times(results_dir, profile)
    paths = []
    with tempfile.TemporaryDirectory(prefix="larpbench-throughput-") as tmp:
        for name in enc_names:
            if progress:
                print(f"throughput: encoder {name}", file=sys.stderr, flush=True)
            m = measure_encoder_isolated(name, profile, tmp)
            if name in fits:
                m["grid_fit"] = fits[name]
            paths.append(write_record(out_dir / f"encoder-{name}.json", {
                "kind": "throughput", "what": "encoder", "name": name, "machine": host,
                "cell": {"profile": profile, "dataset": THROUGHPUT_DATASET, "encoder": name},
                "measurements": m}))
        for name in grid.recommenders:
            if progress:
                print(f"throughput: recommender {name}", file=sys.stderr, flush=True)
            m = measure_recommender(name, profile, RECOMMENDER_SCALE.get(profile, {}))
            paths.append(write_record(out_dir / f"recommender-{name}.json", {
                "kind": "throughput", "what": "recommender", "name": name, "machine": host,
                "cell": {"profile": profile, "dataset": "synthetic-world", "recommender": name},
                "scale": RECOMMENDER_SCALE.get(profile, {}), "measurements": m}))
        seeds, cand = itemknn_case()
        itemknn_product(seeds, cand)  # warm-up (BLAS threads, first touch, the compiled top-k
        itemknn_rank(seeds, cand)  # kernel loaded), as the asv suite warms up
        t_prod = t_rank = float("inf")
        for _ in range(3):  # the least of 3 interleaved runs each
            t_prod = min(t_prod, _timed(lambda: itemknn_product(seeds, cand))[0])
            t_rank = min(t_rank, _timed(lambda: itemknn_rank(seeds, cand))[0])
        paths.append(write_record(out_dir / "itemknn-topk.json", {
            "kind": "throughput", "what": "ranking", "name": "itemknn-1000x100000x256", "machine": host,
            "cell": {"profile": profile, "dataset": "random", "recommender": "itemknn"},
            "measurements": {"product_s": t_prod, "score_topk_s": t_rank, "ratio": t_rank / t_prod,
                             "queries": len(seeds), "candidates": int(cand.shape[0]),
                             "dim": int(cand.shape[1]), "k": 40, "repeats": 3}}))
    return paths


def _main(argv: Sequence[str]) -> int:
    if len(argv) == 5 and argv[0] == "encoder":
        name, profile, workdir, out = argv[1:]
        Path(out).write_text(json.dumps(measure_encoder(name, profile, workdir), default=float))
        return 0
    print("usage: python -m benchmark.harness.throughput encoder NAME PROFILE WORKDIR OUT.json", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
