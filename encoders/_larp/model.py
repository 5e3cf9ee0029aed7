"""The LARP model: two towers, projections, momentum copies, queues, lookup tables.

* Audio tower: laion_clap's HTS-AT (:mod:`encoders._htsat`), fed with log-mel
  spectrograms computed once per dataset by the model's own front end (see
  :class:`encoders._larp.data.MelCache`), then ``bn0`` → SpecAugment (training) →
  ``reshape_wav2img`` → Swin → pooled ``embedding`` (768-d for tiny).
* Text tower: a BERT-family model (:mod:`encoders._text`), CLS token, ≤ 30 tokens.
* ``audio_proj``/``text_proj``: linear maps to ``embed_dim`` (256), L2-normalised.
* Momentum copies of towers and projections (``m = 0.995``), updated before each
  momentum forward pass, as in BLIP.
* Feature queues ``[queue_size, D]`` (randn, normalised) with the track index of each
  slot (``-1`` = never filled), so the co-occurrence mask also covers the queue.
* Learnable temperature (init 0.07, clamped to [0.001, 0.5] at every forward).
* Lookup tables ``[n_train_tracks, D]`` of the latest online audio/text features (TPC),
  and the playlist fusion (:mod:`encoders._larp.fusion`).

:meth:`LarpModel.forward` computes the whole stage loss in one call (so it runs under
``DistributedDataParallel``); under DDP, queue and table updates gather every rank's rows.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from encoders._larp.fusion import build_fusion
from encoders._larp.losses import cooccurrence_exclusion, inbatch_contrast, itc_loss, tpc_paper_loss


def _dist_world() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


@torch.no_grad()
def gather_rows(x: torch.Tensor) -> torch.Tensor:
    """All ranks' ``x`` concatenated along dim 0 (``x`` itself without DDP). No gradient."""
    if _dist_world() == 1:
        return x
    import torch.distributed as dist

    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


class LarpModel(nn.Module):
    """See the module docstring. ``num_tracks`` = number of training tracks (lookup tables)."""

    def __init__(self, cfg: dict[str, Any], num_tracks: int, *, seed: int = 0, text_config: Any = None) -> None:
        """``text_config`` (a ``transformers`` config): build the text tower from it on the
        ``meta`` device instead of loading ``cfg["text_model"]`` (no weights, no tokenizer;
        for parameter counts and memory estimates, :mod:`encoders._larp.memory`)."""
        super().__init__()
        from benchmark.core.runtime import hub_offline

        hub_offline()
        from benchmark.core.runtime import seeded
        from encoders._htsat import build_htsat, get_htsat_config
        from encoders._text import load_text_model, truncate_layers

        self.cfg = dict(cfg)
        self.num_tracks = int(num_tracks)
        d = int(cfg["embed_dim"])
        with seeded(seed):
            self.htsat_config = get_htsat_config(cfg["htsat"])
            self.audio_encoder = build_htsat(self.htsat_config, seed=seed)
            if text_config is None:
                text = load_text_model(cfg["text_model"])
                self.tokenizer = text.tokenizer
                self.text_encoder = text.model
            else:
                from transformers import AutoModel

                with torch.device("meta"):
                    self.text_encoder = AutoModel.from_config(text_config)
                self.tokenizer = None
            if cfg.get("text_num_layers"):
                truncate_layers(self.text_encoder, int(cfg["text_num_layers"]))
            # parts whose output LARP never uses: frozen (no optimiser state, no DDP reduction)
            for mod in (getattr(self.audio_encoder, "tscam_conv", None), getattr(self.audio_encoder, "head", None),
                        getattr(self.text_encoder, "pooler", None)):
                if mod is not None:
                    mod.requires_grad_(False)
            if cfg.get("text_freeze_embeddings"):
                self.text_encoder.get_input_embeddings().requires_grad_(False)
            audio_width = int(self.htsat_config.out_dim)
            text_width = int(self.text_encoder.config.hidden_size)
            self.audio_proj = nn.Linear(audio_width, d)
            self.text_proj = nn.Linear(text_width, d)

            self.audio_encoder_m = copy.deepcopy(self.audio_encoder)
            self.audio_proj_m = copy.deepcopy(self.audio_proj)
            self.text_encoder_m = copy.deepcopy(self.text_encoder)
            self.text_proj_m = copy.deepcopy(self.text_proj)
            for m in (self.audio_encoder_m, self.audio_proj_m, self.text_encoder_m, self.text_proj_m):
                m.requires_grad_(False)

            q = int(cfg["queue_size"])
            self.register_buffer("audio_queue", F.normalize(torch.randn(q, d), dim=1))
            self.register_buffer("text_queue", F.normalize(torch.randn(q, d), dim=1))
            self.register_buffer("idx_queue", torch.full((q,), -1, dtype=torch.long))
            self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))
            self.temp = nn.Parameter(torch.tensor(float(cfg["temp"])))

            self.register_buffer("audio_table", torch.zeros(self.num_tracks, d))
            self.register_buffer("text_table", torch.zeros(self.num_tracks, d))
            self.fusion = build_fusion(bool(cfg["fusion"]), d)
        self.register_buffer("pair_keys", torch.zeros(0, dtype=torch.long), persistent=False)
        self.register_buffer("member_keys", torch.zeros(0, dtype=torch.long), persistent=False)
        self._pairs: list[tuple[nn.Module, nn.Module]] = [
            (self.audio_encoder, self.audio_encoder_m), (self.audio_proj, self.audio_proj_m),
            (self.text_encoder, self.text_encoder_m), (self.text_proj, self.text_proj_m),
        ]

    # ------------------------------------------------------------------ bookkeeping
    #: buffers not carried from one stage to the next (rebuilt at the start of stage 3)
    TABLE_KEYS = ("audio_table", "text_table")

    def set_cooccurrence(self, pair_keys: torch.Tensor) -> None:
        self.pair_keys = pair_keys.to(device=self.audio_queue.device, dtype=torch.long)

    def set_membership(self, member_keys: torch.Tensor) -> None:
        """The playlist-track graph (sorted keys ``playlist * num_tracks + track``) for TPC's targets."""
        self.member_keys = member_keys.to(device=self.audio_queue.device, dtype=torch.long)

    def chance_levels(self, stage: int, rows: int) -> dict[str, float]:
        """``ln(#candidates)`` of each loss term (the loss of a model that cannot tell the
        candidates apart, one positive each), for a batch of ``rows`` clips.

        WTC and TTC contrast against ``[batch; queue]``; TPC ``paper`` averages its
        playlist->track (anchors + queue) and track->playlist (in-batch playlists)
        directions; ``inbatch``/``official`` contrast within the ``rows/2`` pairs.
        """
        q = int(self.audio_queue.shape[0])
        n = rows // 2 if stage >= 2 else rows
        out = {"wtc": math.log(n + q)}
        if stage >= 2:
            out["ttc"] = math.log(2 * n + q)
        if stage >= 3:
            out["tpc"] = ((math.log(n + q) + math.log(n)) / 2 if self.cfg["tpc_loss"] == "paper"
                          else math.log(n))
        out["loss"] = sum(out.values())
        return out

    @torch.no_grad()
    def copy_params_to_momentum(self) -> None:
        for online, mom in self._pairs:
            for p, pm in zip(online.parameters(), mom.parameters()):
                pm.data.copy_(p.data)

    @torch.no_grad()
    def momentum_update(self) -> None:
        """``θ_m ← m·θ_m + (1-m)·θ`` for every trained parameter of towers and projections
        (frozen ones are equal in both copies and stay so)."""
        m = float(self.cfg["momentum"])
        ps: list[torch.Tensor] = []
        pms: list[torch.Tensor] = []
        for online, mom in self._pairs:
            for p, pm in zip(online.parameters(), mom.parameters()):
                if p.requires_grad:
                    ps.append(p.data)
                    pms.append(pm.data)
        if pms:
            torch._foreach_mul_(pms, m)
            torch._foreach_add_(pms, ps, alpha=1.0 - m)

    def load_audio_checkpoint(self, path: str, prefix: str | None = None) -> Any:
        """Load HTS-AT/CLAP weights into the audio tower (and its momentum copy); returns the
        :class:`benchmark.core.checkpoint.LoadReport` (missing/unexpected keys are reported, never hidden)."""
        from encoders._htsat import load_htsat_checkpoint

        report = load_htsat_checkpoint(self.audio_encoder, path, prefix=prefix)
        with torch.no_grad():
            for p, pm in zip(self.audio_encoder.parameters(), self.audio_encoder_m.parameters()):
                pm.data.copy_(p.data)
        return report

    def load_audio_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load a complete HTS-AT state dict (strict) into the audio tower and its momentum copy."""
        self.audio_encoder.load_state_dict(state, strict=True)
        with torch.no_grad():
            for p, pm in zip(self.audio_encoder.parameters(), self.audio_encoder_m.parameters()):
                pm.data.copy_(p.data)
            for b, bm in zip(self.audio_encoder.buffers(), self.audio_encoder_m.buffers()):
                bm.data.copy_(b.data)

    def trainable_parameters(self, stage: int) -> list[nn.Parameter]:
        """Parameters the optimiser updates in ``stage`` (fusion only in stage 3)."""
        self.fusion.requires_grad_(stage >= 3)
        return [p for p in self.parameters() if p.requires_grad]

    # ------------------------------------------------------------------ features
    def _audio(self, mel: torch.Tensor, momentum: bool) -> torch.Tensor:
        enc = self.audio_encoder_m if momentum else self.audio_encoder
        proj = self.audio_proj_m if momentum else self.audio_proj
        x = mel.unsqueeze(1).float()  # [B, 1, frames, mel_bins], as laion_clap's logmel_extractor
        x = enc.bn0(x.transpose(1, 3)).transpose(1, 3)
        if enc.training and self.cfg.get("spec_augment", True):
            x = enc.spec_augmenter(x)
        x = enc.reshape_wav2img(x)
        emb = enc.forward_features(x)["embedding"]
        return F.normalize(proj(emb).float(), dim=-1)

    def _text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, momentum: bool) -> torch.Tensor:
        enc = self.text_encoder_m if momentum else self.text_encoder
        proj = self.text_proj_m if momentum else self.text_proj
        out = enc(input_ids=input_ids, attention_mask=attention_mask)
        return F.normalize(proj(out.last_hidden_state[:, 0]).float(), dim=-1)

    @torch.no_grad()
    def encode(self, mel: torch.Tensor, input_ids: torch.Tensor,
               attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised ``(audio, text)`` projections of the online model (no gradient)."""
        return self._audio(mel, False), self._text(input_ids, attention_mask, False)

    # ------------------------------------------------------------------ queues / tables
    @torch.no_grad()
    def enqueue(self, a_m: torch.Tensor, t_m: torch.Tensor, idx: torch.Tensor) -> None:
        """Write rows at the queue pointer, wrapping around (all ranks' rows under DDP)."""
        a_m, t_m, idx = gather_rows(a_m.float()), gather_rows(t_m.float()), gather_rows(idx.long())
        q = self.audio_queue.shape[0]
        n = a_m.shape[0]
        if n > q:  # only the newest q rows fit
            a_m, t_m, idx = a_m[-q:], t_m[-q:], idx[-q:]
            n = q
        ptr = int(self.queue_ptr.item())
        slots = (ptr + torch.arange(n, device=self.audio_queue.device)) % q
        self.audio_queue[slots] = a_m.to(self.audio_queue.dtype)
        self.text_queue[slots] = t_m.to(self.text_queue.dtype)
        self.idx_queue[slots] = idx
        self.queue_ptr[0] = (ptr + n) % q

    @torch.no_grad()
    def update_tables(self, idx: torch.Tensor, a: torch.Tensor, t: torch.Tensor) -> None:
        """Store the latest features of tracks ``idx`` (every rank's under DDP)."""
        idx, a, t = gather_rows(idx.long()), gather_rows(a.detach().float()), gather_rows(t.detach().float())
        self.audio_table[idx] = a
        self.text_table[idx] = t

    def playlist_vectors(self, ctx: torch.Tensor, pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused audio and text playlist vectors from the (non-differentiable) lookup tables."""
        a_seq = self.audio_table[ctx].detach()
        t_seq = self.text_table[ctx].detach()
        return self.fusion(a_seq, pad).float(), self.fusion(t_seq, pad).float()

    # ------------------------------------------------------------------ the loss
    def forward(self, batch: dict[str, torch.Tensor], stage: int, alpha: float) -> dict[str, torch.Tensor]:
        """Stage loss: ℓ1 = WTC, ℓ2 = WTC + TTC, ℓ3 = WTC + TTC + TPC.

        ``batch``: ``mel [N, frames, mel_bins]``, ``input_ids``/``attention_mask [N, L]``,
        ``track_idx [N]`` (index among training tracks). In stages 2 and 3 the first half of
        the rows are the anchors ``s_i`` and the second half their partners ``s_j``; stage 3
        adds ``ctx_idx [N/2, n_seed]``, ``ctx_pad`` (True = padding) and ``playlist_idx [N/2]``.

        In stages 2 and 3 WTC runs on the anchors only (as the official code): on the whole
        batch ``[s_i; s_j]`` each TTC positive ``t_j`` would be an unmasked WTC negative of
        its anchor ``a_i``.
        """
        with torch.no_grad():
            self.temp.clamp_(float(self.cfg["temp_min"]), float(self.cfg["temp_max"]))
        idx = batch["track_idx"]
        a = self._audio(batch["mel"], False)
        t = self._text(batch["input_ids"], batch["attention_mask"], False)
        with torch.no_grad():
            self.momentum_update()
            a_m = self._audio(batch["mel"], True)
            t_m = self._text(batch["input_ids"], batch["attention_mask"], True)

        out: dict[str, torch.Tensor] = {}
        w = a.shape[0] if stage == 1 else a.shape[0] // 2  # WTC rows: the anchors in stages 2-3
        out["wtc"] = itc_loss(a[:w], t[:w], a_m[:w], t_m[:w], self.audio_queue, self.text_queue, self.temp, alpha)
        total = out["wtc"]
        if stage >= 2:
            n = a.shape[0] // 2
            partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(a.device)
            ex_a2t = ex_t2a = None
            if self.cfg["cooccurrence_mask"]:
                diag = torch.arange(2 * n, device=a.device)
                text_cols = torch.cat([idx[partner], self.idx_queue])
                audio_cols = torch.cat([idx, self.idx_queue])
                ex_a2t = cooccurrence_exclusion(idx, text_cols, diag, self.pair_keys, self.num_tracks)
                ex_t2a = cooccurrence_exclusion(idx[partner], audio_cols, diag, self.pair_keys, self.num_tracks)
            # rows: a_i vs t_j and a_j vs t_i (and the text->audio directions)
            out["ttc"] = itc_loss(a, t[partner], a_m, t_m[partner], self.audio_queue, self.text_queue,
                                  self.temp, alpha, ex_a2t, ex_t2a)
            total = total + out["ttc"]
        if stage >= 3:
            n = a.shape[0] // 2
            self.update_tables(idx, a, t)
            a_p, t_p = self.playlist_vectors(batch["ctx_idx"], batch["ctx_pad"])
            a_s, t_s = a[:n], t[:n]
            if self.cfg["tpc_loss"] == "paper":
                out["tpc"] = tpc_paper_loss(a_p, t_p, a_s, t_s, self.audio_queue, self.text_queue, idx[:n],
                                            batch["playlist_idx"], self.idx_queue, self.member_keys,
                                            self.num_tracks, self.temp)
            elif self.cfg["tpc_loss"] == "inbatch":
                out["tpc"] = (inbatch_contrast(a_p, t_s, self.temp) + inbatch_contrast(t_p, a_s, self.temp)) / 2
            else:
                out["tpc"] = (inbatch_contrast(a_s, t_p, self.temp, symmetric=False)
                              + inbatch_contrast(t_s, a_p, self.temp, symmetric=False)) / 2
            total = total + out["tpc"]
        self.enqueue(a_m, t_m, idx)
        out["loss"] = total
        return out
