"""A scaled GPT-2 to compare the optimizers on real language-model training.

Modules: :mod:`~signlab.gpt.model` (the network), :mod:`~signlab.gpt.data` (offline byte corpus,
cached GPT-2 BPE web text), :mod:`~signlab.gpt.schedule` (warmup + cosine),
:mod:`~signlab.gpt.optimizers` (optimizers by name), :mod:`~signlab.gpt.presets` (the recipes
``CPU_TINY``, ``COLAB_T4``, ``GPT2_124M``), :mod:`~signlab.gpt.config` (``RunConfig``, the one
definition of a run's options) and :mod:`~signlab.gpt.cli` (the flags generated from it),
:mod:`~signlab.gpt.train` (trainer, loop, DDP), :mod:`~signlab.gpt.checkpoint` (weights-only
checkpoints), :mod:`~signlab.gpt.runlog` (JSONL log and progress), :mod:`~signlab.gpt.density`
(noise density φ of the gradient; :mod:`signlab.experiments.cnn` is the image-model contrast),
:mod:`~signlab.gpt.sweep` (width sweep), :mod:`~signlab.gpt.compare` (the chapter's runs),
:mod:`~signlab.gpt.throughput` (tokens/s, MFU and the GPU check), :mod:`~signlab.gpt.bpe` (a
byte-level BPE learned from a corpus, for the offline standard-library corpus),
:mod:`~signlab.gpt.recipe` (the chapter's GPU scale: the runtime switch, a time budget, a
learning-rate sweep, resumable runs) and :mod:`~signlab.gpt.figures` (the chapter's figures from
run logs). Command lines:
``python -m signlab.gpt --preset cpu-tiny --optimizer signsgd`` and
``python -m signlab.gpt.sweep --help``.
"""
