"""Private building blocks shared by the baseline encoders (issue #4).

* :mod:`.losses` — CLIP (laion-clap), NT-Xent (SimCLR / MULE) and SimSiam losses.
* :mod:`.nfnet` — SF-NFNet (slow-fast normaliser-free network, MULE's backbone).
* :mod:`.resnet` — ResNets for 1-channel spectrogram input (SiamRec, CO-Playlist).
* :mod:`.augment` — SiamRec's augmentation families: pedalboard effects, random-mix of
  audio patches, spectrogram-image augmentations; MULE-style crops.
* :mod:`.clap` — CLAP (HTS-AT audio branch + BERT-family text branch, 512-d joint space)
  with loading of official laion-clap checkpoints.
* :mod:`.train` — seeding, a small generic trainer (AdamW/Adam, warm-up + cosine, tqdm,
  bf16 autocast on CUDA), safetensors checkpoints with a "finished" marker.
* :mod:`.data` — in-memory banks of clips (waveforms or log-mels) for training and
  batched embedding helpers.

Nothing here is an encoder; the registry skips private modules.
"""
