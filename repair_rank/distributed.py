"""JAX processes and devices: joining a multi-process run, process 0, replication.

The one module below every JAX layer that knows about processes: the entry
point joins the run here, the scorer asks `is_primary` before writing a
bundle, and the training loop replicates state over the devices it pmaps.
"""
from typing import Any, Sequence

import jax
import ml_collections
import numpy as np


def initialize_distributed(config: ml_collections.ConfigDict) -> None:
  """`jax.distributed.initialize` from the config's coordinator/process fields.

  Must run before any other JAX call. Empty fields ("", 0, -1) are left to JAX's
  auto-detection, which covers Cloud TPU pods, SLURM and Open MPI.
  """
  # Cross-process collectives for CPU devices (tests, CPU clusters; GPU/TPU ignore it).
  # gloo is the default in recent JAX; explicit because older versions had none.
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(
      coordinator_address=config.coordinator_address or None,
      num_processes=config.num_processes or None,
      process_id=None if config.process_id < 0 else config.process_id)


def is_primary() -> bool:
  """Whether this is process 0, the one that writes metrics, plots and exports."""
  return jax.process_index() == 0


def pmap_devices(devices: Sequence[jax.Device]) -> tuple[jax.Device, ...] | None:
  """The `devices=` for `jax.pmap`: `devices` in one process, None (all) across several.

  With several processes pmap must map over every device of every process (so
  `pmean`/`psum` span them all) while each process passes only its local
  devices' shards; that needs all local devices on each.
  """
  if jax.process_count() == 1:
    return tuple(devices)
  if list(devices) != jax.local_devices():
    raise ValueError("with several processes, each must train on all of its local devices")
  return None


def replicate(tree: Any, devices: Sequence[jax.Device], axis_name: str) -> Any:
  """Stacks a host pytree once per device, sharded the way `jax.pmap(axis_name=...)` outputs are.

  Matching pmap's output sharding (a mesh axis named `axis_name`) matters: with
  `flax.jax_utils.replicate` the second step sees differently sharded state and
  recompiles.
  """
  mesh = jax.sharding.Mesh(np.array(devices), (axis_name,))
  sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(axis_name))
  return jax.tree.map(lambda x: jax.device_put(np.stack([np.asarray(x)] * len(devices)),
                                               sharding), tree)


def unreplicate(tree: Any) -> Any:
  """The first replica of a pmapped pytree, on the host."""
  return jax.device_get(jax.tree.map(lambda x: x[0], tree))
