"""The known phases, gradient modes and optimizers, checked in one place."""

from __future__ import annotations

import math
from dataclasses import dataclass

PHASES = ("forward", "backward", "train")  # train = forward + backward + optimizer step
GRADS = ("sparse", "dense")  # sparse: unique rows + compact gradient; dense: a buffer the size of the parameters
OPTIMIZERS = ("sgd", "adagrad")  # adagrad is row-wise: one float of state per row (chunk) of parameters


def _check(kind: str, value, known: tuple[str, ...]) -> str:
    if value not in known:
        raise ValueError(f"unknown {kind} {value!r}; known: {', '.join(known)}")
    return value


def check_phase(phase) -> str:
    return _check("phase", phase, PHASES)


def check_grad(grad) -> str:
    return _check("gradient mode", grad, GRADS)


def check_optimizer(optimizer) -> str:
    return _check("optimizer", optimizer, OPTIMIZERS)


@dataclass(frozen=True)
class TrainConfig:
    """How a training step updates the parameters: gradient mode, optimizer, learning rate
    and Adagrad's epsilon (w -= lr * g / (sqrt(state) + eps), state += mean(g^2) per row)."""

    grad: str = "sparse"
    optimizer: str = "sgd"
    lr: float = 0.01
    eps: float = 1e-8

    def __post_init__(self):
        check_grad(self.grad)
        check_optimizer(self.optimizer)
        for name in ("lr", "eps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
