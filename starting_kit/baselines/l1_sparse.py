"""l1-sparse: fine-tune on retain with an l1 penalty on the weights that decays to zero.

Source: Jia, Liu, Ram, Yao, Liu, Liu, Sharma and Liu, "Model Sparsity Can Simplify Machine
Unlearning", NeurIPS 2023, arXiv 2304.04934 (OPTML-Group/Unlearn-Sparse, `--unlearn FT_prune`;
`FT_iter(with_l1=True)` in OPTML-Group/Unlearn-Saliency `unlearn/FT.py`).

Recipe (OPTML): loss = CE(retain) + alpha_t * ||theta||_1 over all parameters, with
alpha_t = L1_ALPHA * (1 - t / T) decaying linearly to 0 over the run; SGD lr 0.01,
momentum 0.9, weight decay 5e-4, 10 epochs. The README gives no alpha; the paper tunes it in
a small range around 1e-4 to 5e-4 (recollection, not checked against the PDF), so
L1_ALPHA = 5e-4 here. Kept: the loss, the decay, the optimiser. Changed: the length, EPOCHS
passes over the retain set, so that a run fits the efficiency gate (about 20% of a
retraining); the decay runs per step instead of per epoch.

Why it should help: the sparsity prior pulls weights that only the forget set needed towards
zero, so fine-tuning forgets more than plain fine-tuning at the same utility.
Runs differ through the retain loader's shuffling, which follows the harness's seed.

Measured on the embedded default: calibrated F 0.148, score 0.154;
neurips2023 F 0.004, score 0.005; efficiency 0.11 (64 runs; starting_kit/BASELINES.md).
"""

import itertools
import math

import torch
from torch import nn
from torch.utils.data import DataLoader

EPOCHS = 4.0  # passes over the retain set; the gate allows about 20% of a retraining
L1_ALPHA = 5e-4  # initial weight of the l1 penalty
LR = 0.01
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4


def _batches_forever(loader: DataLoader):
    """Cycle through `loader`, reshuffling at every pass (unlike itertools.cycle)."""
    while True:
        yield from loader


def unlearning(
    net: torch.nn.Module,
    retain_loader: DataLoader,
    forget_loader: DataLoader,
    val_loader: DataLoader,
) -> None:
    """Fine-tune `net` in place on retain with a linearly decaying l1 penalty."""
    device = next(net.parameters()).device
    steps = max(1, math.ceil(EPOCHS * len(retain_loader)))
    optimizer = torch.optim.SGD(
        net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY
    )
    loss_fn = nn.CrossEntropyLoss()
    parameters = [p for p in net.parameters() if p.requires_grad]
    net.train()
    batches = itertools.islice(_batches_forever(retain_loader), steps)
    for step, (inputs, targets) in enumerate(batches):
        inputs, targets = inputs.to(device), targets.to(device)
        alpha = L1_ALPHA * (1 - step / steps)
        l1 = sum(p.abs().sum() for p in parameters)
        optimizer.zero_grad()
        (loss_fn(net(inputs), targets) + alpha * l1).backward()
        optimizer.step()
