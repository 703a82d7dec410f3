"""A scaled GPT-2 to compare the optimizers on real language-model training.

Modules: :mod:`~signlab.gpt.model` (the network), :mod:`~signlab.gpt.data` (offline byte corpus,
cached GPT-2 BPE web text), :mod:`~signlab.gpt.schedule` (warmup + cosine),
:mod:`~signlab.gpt.optimizers` (optimizers by name), :mod:`~signlab.gpt.presets` (``cpu-tiny``,
``colab-t4``, ``gpt2-124m``), :mod:`~signlab.gpt.train` (the loop, checkpoints, DDP),
:mod:`~signlab.gpt.density` (noise density φ of the gradient), :mod:`~signlab.gpt.sweep` (width
sweep), :mod:`~signlab.gpt.throughput` (tokens/s and MFU). Command line:
``python -m signlab.gpt --preset cpu-tiny --optimizer signsgd``.
"""
