"""Running llama.cpp: the launcher, one supervised child per alias, and the pool."""

from companion.inference.pool import Lease, LlamaPool
from companion.inference.process import LaunchConfig, LlamaProcess, ProcessState

__all__ = ["LaunchConfig", "Lease", "LlamaPool", "LlamaProcess", "ProcessState"]
