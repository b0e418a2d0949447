"""Training passes of every representation: backward (gradient of the pooled sum w.r.t. the
parameter memory, given dL/d(pooled output)) and the optimizer step, as Numba kernels that
also emit their exact memory-access traces (writes marked with ``sim.access.WRITE_FLAG``).

``names`` holds the known phases, gradient modes and optimizers; ``layout`` the arrays a
training step adds (gradient buffer, sparse unique rows and compact gradient rows, Adagrad
state); ``grads`` the per-representation gradient segments; ``kernels`` the shared scatter
and update kernels; ``trainer`` the public ``Trainer``. See docs/training.md.
"""

from traces.training.names import GRADS, OPTIMIZERS, PHASES, TrainConfig, check_grad, check_optimizer, check_phase
from traces.training.trainer import Trainer

__all__ = ["PHASES", "GRADS", "OPTIMIZERS", "TrainConfig", "Trainer", "check_phase", "check_grad",
           "check_optimizer"]
