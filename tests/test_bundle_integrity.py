"""A damaged scorer bundle is refused at load with a message naming the file and field.

Each test damages a copy of one tiny saved bundle the way a disk, a copy or a
hand edit would (issue 13): flipped, truncated, zeroed or missing files, a
scorer.json that is not JSON or whose fields are missing, mistyped or disagree
with the params, NaN params, a NaN learned prior. Field checks are reached
with the config digest recomputed, as if the bundle had been saved that way.
"""
import json
import logging
import pathlib
import shutil

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

import conftest
from repair_rank.model import checkpoints
from repair_rank.model import models
from repair_rank.ranking import confidence
from repair_rank.ranking import learned_prior
from repair_rank.ranking import scorer
from repair_rank.training import finetune

QUERY = ["NAME", "(", "NAME"]
CANDIDATES = [["NAME", "(", "NAME", ")"], ["NAME", "NAME"]]


@pytest.fixture(name="saved", scope="module")
def fixture_saved(tmp_path_factory):
  """A two-layer tiny bundle, saved once; tests damage copies of it."""
  model_config = models.TransformerConfig.from_job_config(conftest.tiny_config(), max_len=64,
                                                          layers=2)
  params = finetune._initializer(model_config)(jax.random.PRNGKey(0))  # pylint: disable=protected-access
  model = scorer.Scorer(model_config, params, length_buckets=(16, 64), batch_buckets=(2, 4),
                        calibration=confidence.Calibration(2.0, -1.5))
  return model.save(tmp_path_factory.mktemp("saved") / "bundle"), model


@pytest.fixture(name="bundle")
def fixture_bundle(saved, tmp_path):
  return pathlib.Path(shutil.copytree(saved[0], tmp_path / "bundle"))


def _data_file(bundle: pathlib.Path) -> pathlib.Path:
  """The bundle's largest params file (the array data)."""
  return max((p for p in (bundle / "params").rglob("*") if p.is_file()),
             key=lambda p: p.stat().st_size)


def _edit_config(bundle: pathlib.Path, edit) -> None:
  """Applies `edit(meta)` to scorer.json and records the new config digest."""
  path = bundle / scorer.BUNDLE_CONFIG
  meta = json.loads(path.read_text())
  edit(meta)
  if scorer.DIGESTS in meta:
    meta[scorer.DIGESTS][scorer.BUNDLE_CONFIG] = scorer._config_digest(meta)  # pylint: disable=protected-access
  path.write_text(json.dumps(meta))


def _redigest(bundle: pathlib.Path) -> None:
  """Records the digests of the files as they are now (a bundle saved damaged)."""
  def edit(meta):
    meta[scorer.DIGESTS].update(checkpoints.file_digests(bundle / "params", bundle))
    for name in list(meta[scorer.DIGESTS]):
      if name != scorer.BUNDLE_CONFIG and not (bundle / name).exists():
        del meta[scorer.DIGESTS][name]
    for name in (scorer.LEARNED_PRIOR_FILE, confidence.CALIBRATION_FILE):
      if (bundle / name).exists():
        meta[scorer.DIGESTS][name] = checkpoints.sha256_of_file(bundle / name)
  _edit_config(bundle, edit)


def _refused(bundle: pathlib.Path, *fragments: str) -> str:
  with pytest.raises(scorer.BundleError) as error:
    scorer.load(bundle)
  message = str(error.value)
  for fragment in fragments:
    assert fragment in message, message
  return message


def test_saved_bundle_records_digests_and_loads_without_warning(saved, caplog):
  path, model = saved
  meta = json.loads((path / scorer.BUNDLE_CONFIG).read_text())
  assert scorer.BUNDLE_CONFIG in meta[scorer.DIGESTS]
  assert any(name.startswith("params/") for name in meta[scorer.DIGESTS])
  with caplog.at_level(logging.WARNING):
    loaded = scorer.load(path)
  assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
  np.testing.assert_array_equal(loaded.score(QUERY, CANDIDATES), model.score(QUERY, CANDIDATES))


def test_bundle_without_digests_loads_with_a_warning(bundle, caplog):
  _edit_config(bundle, lambda meta: meta.pop(scorer.DIGESTS))
  with caplog.at_level(logging.WARNING):
    scorer.load(bundle)
  assert any("no 'digests'" in r.getMessage() for r in caplog.records)


def test_shipped_bundle_loads():
  model = scorer.load()
  assert model.prior in ("markov_channel", "learned_prior")
  assert np.isfinite(model.score(QUERY, CANDIDATES)).all()
  assert model.calibration is not None  # repairs with the bundled model have a confidence


def test_saved_calibration_round_trips(saved):
  path, model = saved
  assert json.loads((path / scorer.BUNDLE_CONFIG).read_text())[scorer.CONFIDENCE] == (
      confidence.CALIBRATION_FILE)
  assert scorer.load(path).calibration == model.calibration


def test_changing_what_the_scores_depend_on_drops_the_calibration(saved, tmp_path):
  """A calibration fits the scores it was fitted to: after a change it is neither
  reported nor saved (a stale one would report confidences of other scores)."""
  loaded = scorer.load(saved[0])
  loaded.batch_buckets = (4,)  # speed only: kept
  assert loaded.calibration is not None
  loaded.prefilter_k = 1
  assert loaded.calibration is None
  loaded.save(tmp_path / "retuned")
  assert scorer.load(tmp_path / "retuned").calibration is None
  loaded.calibration = confidence.Calibration(1.5, -1.0)  # refitted to these scores
  assert loaded.calibration == confidence.Calibration(1.5, -1.0)


def test_bundle_without_a_calibration_loads_with_a_warning_and_no_confidence(bundle, caplog):
  (bundle / confidence.CALIBRATION_FILE).unlink()
  def edit(meta):
    del meta[scorer.CONFIDENCE]
    del meta[scorer.DIGESTS][confidence.CALIBRATION_FILE]
  _edit_config(bundle, edit)
  with caplog.at_level(logging.WARNING):
    loaded = scorer.load(bundle)
  assert loaded.calibration is None
  assert any("no 'confidence' field" in r.getMessage() for r in caplog.records)
  assert confidence.score_with_confidence(loaded, QUERY, CANDIDATES)[1] is None
  # The finetune job loads its fresh bundle to calibrate it: no warning then (issue 22).
  caplog.clear()
  with caplog.at_level(logging.WARNING):
    assert scorer.load_bundle(bundle, calibrating=True).calibration is None
  assert not any("no 'confidence' field" in r.getMessage() for r in caplog.records)


def test_damaged_calibration_is_refused_by_its_digest(bundle):
  path = bundle / confidence.CALIBRATION_FILE
  path.write_text(path.read_text().replace('"temperature": 2.0', '"temperature": 3.0'))
  _refused(bundle, str(path), "damaged")


def test_missing_calibration_file_is_refused(bundle):
  (bundle / confidence.CALIBRATION_FILE).unlink()
  _refused(bundle, confidence.CALIBRATION_FILE, "missing")


def test_calibration_without_a_recorded_digest_is_refused(bundle):
  _edit_config(bundle, lambda meta: meta[scorer.DIGESTS].pop(confidence.CALIBRATION_FILE))
  _refused(bundle, "field 'digests'", confidence.CALIBRATION_FILE)


@pytest.mark.parametrize("field, value, fragment", [
    ("temperature", -1.0, "expected > 0"),
    ("temperature", "hot", "expected a finite number"),
    ("none_logit", None, "expected a finite number"),
    ("format", "other/1", "field 'format'"),
    ("isotonic_x", [0.5, 0.2], "non-decreasing"),
])
def test_bad_calibration_field_is_named(bundle, field, value, fragment):
  path = bundle / confidence.CALIBRATION_FILE
  data = json.loads(path.read_text())
  data[field] = value
  path.write_text(json.dumps(data))
  _redigest(bundle)  # as if saved that way: the field check, not the digest, must catch it
  message = _refused(bundle, str(path), fragment)
  assert f"'{field}'" in message


@pytest.mark.parametrize("damage", ["flip", "truncate", "zero"])
def test_damaged_params_file_is_refused_by_its_digest(bundle, damage):
  data = _data_file(bundle)
  content = bytearray(data.read_bytes())
  if damage == "flip":
    middle = len(content) // 2
    content[middle:middle + 4096] = bytes(b ^ 0xFF for b in content[middle:middle + 4096])
  elif damage == "truncate":
    content = content[:len(content) // 2]
  else:
    content = bytearray(len(content))
  data.write_bytes(bytes(content))
  _refused(bundle, str(data), "damaged", "sha256")


def test_missing_params_file_is_refused(bundle):
  (bundle / "params" / "manifest.ocdbt").unlink()
  _refused(bundle, str(bundle / "params" / "manifest.ocdbt"), "missing")
  shutil.rmtree(bundle / "params")
  _refused(bundle, "missing")


def test_unreadable_params_without_digests_name_the_params_directory(bundle):
  _edit_config(bundle, lambda meta: meta.pop(scorer.DIGESTS))
  data = _data_file(bundle)
  data.write_bytes(data.read_bytes()[:len(data.read_bytes()) // 2])
  _refused(bundle, str(bundle / "params"), "unreadable")


def test_hand_edited_config_fails_its_digest(bundle):
  path = bundle / scorer.BUNDLE_CONFIG
  path.write_text(path.read_text().replace('"prior_weight": 0.0', '"prior_weight": 2.0'))
  _refused(bundle, str(path), "differ from the digest")


@pytest.mark.parametrize("text,fragment", [
    ('{"format": "repair_rank.scorer/1", "model": {', "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"prior_weight": NaN}', "not valid JSON"),
    ("", "not valid JSON"),
])
def test_scorer_json_that_is_not_a_json_object_is_refused(bundle, text, fragment):
  (bundle / scorer.BUNDLE_CONFIG).write_text(text)
  _refused(bundle, str(bundle / scorer.BUNDLE_CONFIG), fragment)


def test_missing_scorer_json_is_named(bundle):
  (bundle / scorer.BUNDLE_CONFIG).unlink()
  with pytest.raises(FileNotFoundError, match="neither a scorer bundle"):
    scorer.load(bundle)
  with pytest.raises(scorer.BundleError, match="cannot read"):
    scorer.load_bundle(bundle)


def _set(path: str, value):
  def edit(meta):
    *parents, last = path.split(".")
    target = meta
    for name in parents:
      target = target[name]
    if value is KeyError:
      del target[last]
    else:
      target[last] = value
  return edit


@pytest.mark.parametrize("field,value,fragment", [
    ("format", "repair_rank.scorer/0", "field 'format'"),
    ("vocab_version", "specials3-alphabet0", "field 'vocab_version'"),
    ("model.vocab_size", 90, "field 'model.vocab_size'"),
    ("batch_buckets", KeyError, "missing field 'batch_buckets'"),
    ("model", KeyError, "missing field 'model'"),
    ("model.dim", KeyError, "missing field 'model.dim'"),
    ("batch_buckets", [], "field 'batch_buckets' is empty"),
    ("batch_buckets", "8", "field 'batch_buckets' is \"8\""),
    ("length_buckets", [16, "64"], "field 'length_buckets'"),
    ("prefilter_k", "64", "field 'prefilter_k'"),
    ("prefilter_k", True, "field 'prefilter_k'"),
    ("prefilter_per_distance", -1, "field 'prefilter_per_distance'"),
    ("prefilter_per_distance", "4", "field 'prefilter_per_distance'"),
    ("prior_weight", None, "field 'prior_weight'"),
    ("model.dim", "32", "field 'model.dim'"),
    ("model.layers", -1, "field 'model.layers'"),
    ("model.dtype", "float16", "field 'model.dtype'"),
    ("model.pooling", "max", "field 'model.pooling'"),
    ("model.colour", "blue", "field 'model.colour'"),
    ("model.heads", 3, "field 'model.heads'"),
    ("model.dim", 64, "field 'model.dim'"),
    ("model.mlp_dim", 32, "'model.mlp_dim'"),  # = dim here: both are named
    ("model.max_distance", 4, "field 'model.max_distance'"),
    ("model.layers", 1, "field 'model.layers'"),
    ("model.layers", 3, "field 'model.layers'"),
    ("model.lm_feature", False, "field 'model.lm_feature'"),
    ("prior", "markov_magic", "field 'prior'"),
    ("prior_options", {"colour": 1}, "field 'prior_options.colour'"),
    ("prior_options", [], "field 'prior_options'"),
])
def test_bad_config_field_is_named_at_load(bundle, field, value, fragment):
  _edit_config(bundle, _set(field, value))
  _refused(bundle, str(bundle / scorer.BUNDLE_CONFIG), fragment)


def test_nan_params_are_refused_at_save_and_at_load(saved, bundle):
  model = saved[1]
  params = jax.tree.map(np.asarray, model.params)
  params["score_head"]["bias"] = np.full_like(params["score_head"]["bias"], np.nan)
  damaged = scorer.Scorer(model.model_config, params, batch_buckets=(2,))
  with pytest.raises(scorer.BundleError, match="NaN or Inf in score_head/bias"):
    damaged.save(bundle.parent / "not_saved")
  assert not (bundle.parent / "not_saved").exists()
  # Written some other way with its digests recorded: the load still refuses it.
  checkpointer = ocp.StandardCheckpointer()
  checkpointer.save(bundle / "params", params, force=True)
  checkpointer.wait_until_finished()
  _redigest(bundle)
  _refused(bundle, str(bundle / "params"), "NaN or Inf in score_head/bias")


def test_learned_prior_file_is_checked(saved, tmp_path):
  model = saved[1]
  prior_path = tmp_path / "prior.json"
  learned_prior.LearnedPrior.plain(0.5, 8).save(prior_path)
  staged = scorer.Scorer(model.model_config, model.params, batch_buckets=(2,),
                         prior="learned_prior", prior_options={"path": str(prior_path)})
  bundle = staged.save(tmp_path / "bundle")
  meta = json.loads((bundle / scorer.BUNDLE_CONFIG).read_text())
  assert meta["prior_options"]["path"] == scorer.LEARNED_PRIOR_FILE
  assert scorer.LEARNED_PRIOR_FILE in meta[scorer.DIGESTS]
  assert scorer.load(bundle).prior == "learned_prior"

  prior_file = bundle / scorer.LEARNED_PRIOR_FILE
  data = json.loads(prior_file.read_text())
  prior_file.write_text(prior_file.read_text().replace('"list_size": 8', '"list_size": 9'))
  _refused(bundle, str(prior_file), "damaged")
  data["weights"][0] = float("nan")
  prior_file.write_text(json.dumps(data))
  _redigest(bundle)
  _refused(bundle, str(prior_file), "NaN or Inf")
  data["weights"][0] = 0.0  # A hidden layer is checked too.
  width = 2
  data.update(format=learned_prior.FORMAT_HIDDEN, hidden={
      "w1": [[0.0] * width for _ in learned_prior.FEATURE_NAMES], "b1": [0.0, float("inf")],
      "w2": [1.0] * width})
  prior_file.write_text(json.dumps(data))
  _redigest(bundle)
  _refused(bundle, str(prior_file), "NaN or Inf")
  del data["weights"]
  prior_file.write_text(json.dumps(data))
  _redigest(bundle)
  _refused(bundle, str(prior_file), "not a usable learned prior")
  prior_file.unlink()
  _refused(bundle, str(prior_file), "missing")


def test_a_bundle_saved_before_digests_is_redigested_by_the_script(bundle, saved, caplog):
  _edit_config(bundle, lambda meta: meta.pop(scorer.DIGESTS))
  script = conftest.load_module("launch/analysis/redigest_bundle.py")
  assert script.main([str(bundle)]) == 0
  meta = json.loads((bundle / scorer.BUNDLE_CONFIG).read_text())
  assert meta[scorer.DIGESTS] == json.loads(
      (saved[0] / scorer.BUNDLE_CONFIG).read_text())[scorer.DIGESTS]  # as save records them
  caplog.clear()  # the script's own load warned: no digests yet
  with caplog.at_level(logging.WARNING):
    scorer.load(bundle)
  assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
  assert script.main([str(bundle)]) == 1  # digests already: refused, not re-blessed
  with open(_data_file(bundle), "r+b") as f:
    f.write(b"\x00" * 8)
  _refused(bundle, "params/")


def test_a_damaged_bundle_without_digests_is_not_blessed(bundle):
  _edit_config(bundle, lambda meta: (meta.pop(scorer.DIGESTS), meta.update(format="nope")))
  with pytest.raises(scorer.BundleError, match="format"):
    scorer.add_digests(bundle)
  assert scorer.DIGESTS not in json.loads((bundle / scorer.BUNDLE_CONFIG).read_text())
