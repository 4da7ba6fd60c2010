"""PyTorch-layout weights: torchvision's and timm's own models, with seeded random weights and
batch-norm statistics, write their state dicts as the sources publish them; kerascnn loads each
file by path and must compute the source model's eval-mode output on the same random input.

The oracle is the source framework's computation, made in a separate process
(`tests/torch_reference.py`): TensorFlow, then torch, then torchvision in one process crashes.
"""

import dataclasses
import fcntl
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras

import kerascnn
from kerascnn import weight_sources

HERE = os.path.dirname(__file__)

# id: (kerascnn model, source, source model, input size, output, build options, extras).
# Every torchvision and timm entry of `weight_sources` has a case (its tags differ in values, not
# layout). Inputs are as small as each architecture allows where global pooling makes the head
# size-independent; 224 where torchvision's adaptive pooling fixes the flattened size (AlexNet,
# VGG) and once per family.
CASES = {
    "resnet18_224": ("resnet18", "torchvision", "resnet18", 224, "logits", {}, {}),
    "resnet50": ("resnet50", "torchvision", "resnet50", 32, "logits", {"stride_at": "3x3"}, {}),
    "resnext50_32x4d": ("resnext50_32x4d", "torchvision", "resnext50_32x4d", 32, "logits", {}, {}),
    "densenet121_224": ("densenet121", "torchvision", "densenet121", 224, "logits", {},
                        {"legacy_densenet": True}),
    "shufflenet_v2_x0_5_224": ("shufflenet_v2_x0_5", "torchvision", "shufflenet_v2_x0_5", 224,
                               "logits", {}, {}),
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", "torchvision", "shufflenet_v2_x1_0", 64,
                           "logits", {}, {}),
    # VGG's FC6 reads the 7x7 map of a 224x224 input (102M weights): the classifier, whose layout
    # every VGG shares, is compared once; the other files hold the convolutions, compared on the
    # last map.
    "vgg11_224": ("vgg11", "torchvision", "vgg11", 224, "logits", {}, {}),
    "vgg11_bn": ("vgg11_bn", "torchvision", "vgg11_bn", 32, "features", {},
                 {"features_only": True}),
    "alexnet_torchvision_224": ("alexnet_torchvision", "torchvision", "alexnet", 224, "logits",
                                {}, {}),
    # The published file holds the auxiliary classifiers, which kerascnn leaves out.
    "googlenet_torchvision_224": ("googlenet_torchvision", "torchvision", "googlenet", 224,
                                  "logits", {}, {"kwargs": {"aux_logits": True,
                                                            "transform_input": False}}),
    "resnet50_timm": ("resnet50", "timm", "resnet50", 32, "logits", {"stride_at": "3x3"}, {}),
    "mobilenet_timm_224": ("mobilenet", "timm", "mobilenetv1_100", 224, "logits",
                           {"padding": "symmetric"}, {}),
    # keras.applications' layout has no batch-norm gamma: timm's folds into the convolutions.
    "inception_resnet_v2_timm": ("inception_resnet_v2", "timm", "inception_resnet_v2", 75,
                                 "logits", {}, {}),
    "inception_v4_timm_299": ("inception_v4", "timm", "inception_v4", 299, "logits", {}, {}),
    # The deeper and wider members of those families, at the smallest input of each.
    **{name: (name, "torchvision", name, 32, "logits", options, {}) for name, options in {
        "resnet34": {}, "resnet101": {"stride_at": "3x3"}, "resnet152": {"stride_at": "3x3"},
        "resnext101_32x8d": {}, "wide_resnet50_2": {}, "wide_resnet101_2": {},
        "shufflenet_v2_x1_5": {}, "shufflenet_v2_x2_0": {}}.items()},
    **{name: (name, "torchvision", name, 32, "logits", {}, {"legacy_densenet": True})
       for name in ("densenet161", "densenet169", "densenet201")},
    **{name: (name, "torchvision", name, 32, "features", {}, {"features_only": True})
       for name in ("vgg13", "vgg16", "vgg19", "vgg13_bn", "vgg16_bn", "vgg19_bn")},
}
# kerascnn names of torchvision's deviating networks -> torchvision's names.
TORCHVISION_NAMES = {
    name: {"alexnet_torchvision": "alexnet", "googlenet_torchvision": "googlenet"}.get(name, name)
    for name, tags in weight_sources.SOURCES.items() if "torchvision" in tags
}


def source_case(case_id):
    _, source, model, size, output, _, extras = CASES[case_id]
    return {"id": case_id, "source": source, "model": model, "size": size, "output": output,
            **extras}


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """Runs the source frameworks once for every case; returns the folder of their files.

    Under pytest-xdist the folder is shared by the workers (their common base directory, which
    belongs to this test run), under a lock, so the source models run once per run, not once per
    worker.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "torch_reference"
    with open(root / "torch_reference.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done").exists():
            folder.mkdir(exist_ok=True)
            cases = folder / "cases.json"
            cases.write_text(json.dumps([source_case(case_id) for case_id in CASES] + [
                {"id": "torchvision_weights", "metadata": sorted(TORCHVISION_NAMES.values())}]))
            subprocess.run([sys.executable, os.path.join(HERE, "torch_reference.py"), str(cases),
                            str(folder)], check=True, timeout=600)
            (folder / "done").write_text("")
    return folder


def weights_file(folder, case_id):
    source = CASES[case_id][1]
    return str(folder / f"{case_id}.{'safetensors' if source == 'timm' else 'pth'}")


def assert_matches_source(model, folder, case_id):
    x = np.load(folder / f"{case_id}_x.npy")
    expected = np.load(folder / f"{case_id}_y.npy")
    actual = np.asarray(model(x, training=False))
    assert actual.shape == expected.shape
    scale = float(np.max(np.abs(expected)))
    assert scale > 1e-3  # an output that depends on the weights
    # The criterion: within 1e-4 of the output's scale.
    assert float(np.max(np.abs(actual - expected))) <= 1e-4 * scale


@pytest.mark.parametrize("case_id", list(CASES))
def test_state_dict_file_computes_what_the_source_computes(references, case_id):
    name, _, _, size, output, options, _ = CASES[case_id]
    kwargs = {"include_top": False} if output == "features" else {"classifier_activation": None}
    model = kerascnn.build(name, weights=weights_file(references, case_id),
                           input_shape=(size, size, 3), **options, **kwargs)
    assert_matches_source(model, references, case_id)


def test_truncated_file_gives_one_line(references, tmp_path):
    data = open(weights_file(references, "resnet18_224"), "rb").read()
    truncated = tmp_path / "resnet18.pth"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cannot read .* as a PyTorch state dict") as error:
        kerascnn.build("resnet18", weights=str(truncated), input_shape=(32, 32, 3))
    assert "\n" not in str(error.value)


def test_file_of_another_architecture_names_the_first_tensor(references):
    # ResNet-18's basic blocks against ResNet-50's bottlenecks: the stem fits, layer1 does not.
    with pytest.raises(ValueError, match=r"'layer1\.0\.conv1\.weight' does not fit: expected "
                                         r"shape \(64, 64, 1, 1\), received shape \(64, 64, 3, 3\)"
                       ) as error:
        kerascnn.build("resnet50", weights=weights_file(references, "resnet18_224"),
                       stride_at="3x3", input_shape=(32, 32, 3))
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="build with stride_at='3x3'"):
        kerascnn.build("resnet50", weights=weights_file(references, "resnet50"),
                       input_shape=(32, 32, 3))


def seed_cache(monkeypatch, tmp_path, name, tag, path):
    """Places `path` in a fresh Keras cache under the published file name; the published hash
    belongs to the real file, so the entry is given this file's sha256 prefix instead."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (source,) = weight_sources.SOURCES[name][tag]
    cached = tmp_path / "keras" / "models" / source.file_name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(open(path, "rb").read())
    prefix = hashlib.sha256(cached.read_bytes()).hexdigest()[:8]
    seeded = dataclasses.replace(source, file_hash=prefix)
    monkeypatch.setitem(weight_sources.SOURCES, name, {**weight_sources.SOURCES[name],
                                                      tag: (seeded,)})
    return seeded, cached


def test_tag_from_the_cache_is_converted_once(references, tmp_path, monkeypatch):
    seeded, cached = seed_cache(monkeypatch, tmp_path, "resnet18", "torchvision",
                                weights_file(references, "resnet18_224"))
    model = kerascnn.build("resnet18", weights="torchvision", classifier_activation=None)
    assert_matches_source(model, references, "resnet18_224")
    converted = str(cached) + ".top.weights.h5"
    assert os.path.isfile(converted)
    cached.unlink()  # later builds read the converted file alone
    again = kerascnn.build("resnet18", weights="torchvision", classifier_activation=None)
    assert_matches_source(again, references, "resnet18_224")


def test_tag_with_another_hash_is_refused(references, tmp_path, monkeypatch):
    seeded, _ = seed_cache(monkeypatch, tmp_path, "resnet18", "torchvision",
                           weights_file(references, "resnet18_224"))
    wrong = dataclasses.replace(seeded, file_hash="00000000")
    monkeypatch.setitem(weight_sources.SOURCES, "resnet18", {"torchvision": (wrong,)})
    with pytest.raises(ValueError, match="hash does not match.*publishes 00000000"):
        kerascnn.build("resnet18", weights="torchvision", input_shape=(32, 32, 3))


def test_offline_error_names_the_url_and_the_cache_path(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (source,) = weight_sources.SOURCES["shufflenet_v2_x0_5"]["torchvision"]
    # An unreachable location stands in for the network being down.
    offline = dataclasses.replace(source, url=(tmp_path / "absent" / source.file_name).as_uri())
    monkeypatch.setitem(weight_sources.SOURCES, "shufflenet_v2_x0_5", {"torchvision": (offline,)})
    expected = os.path.join(str(tmp_path / "keras"), "models", source.file_name)
    with pytest.raises(ValueError, match=f"from {offline.url} .*place the file at {expected}"):
        kerascnn.build("shufflenet_v2_x0_5", weights="torchvision")


def test_fine_tune_from_a_tag(references, tmp_path, monkeypatch):
    import torch  # the file's own reader, not kerascnn's

    path = weights_file(references, "resnet18_224")
    seed_cache(monkeypatch, tmp_path, "resnet18", "torchvision", path)
    rng = np.random.default_rng(0)
    data = rng.uniform(0, 255, (16, 32, 32, 3)).astype("float32"), rng.integers(0, 2, 16)
    tuned = kerascnn.fine_tune("resnet18", data, weights="torchvision", freeze_until=0,
                               head_epochs=1, epochs=0, batch_size=8, verbose=0, report=False,
                               run_dir=str(tmp_path / "run"))
    stem = torch.load(path, weights_only=True)["conv1.weight"].numpy()
    kernel = keras.ops.convert_to_numpy(tuned.get_layer("conv1_conv").kernel)
    np.testing.assert_array_equal(kernel, stem.transpose(2, 3, 1, 0))
    # Inputs were prepared as torchvision's weights expect, and the run records it for export.
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["normalization"] == "torch"


def test_torchvision_entries_are_what_torchvision_publishes(references):
    published = json.loads((references / "torchvision_weights.json").read_text())
    for name, theirs in TORCHVISION_NAMES.items():
        ours = [weight_sources.SOURCES[name][tag][0]
                for tag in ("torchvision", "torchvision_v2") if tag in weight_sources.SOURCES[name]]
        assert [[s.url, s.top1, s.top5, s.size_mb] for s in ours] == published[theirs], name
        for source in ours:
            # torch.hub checks the file name's hex suffix against the file's sha256.
            assert source.url.rsplit("-", 1)[1].startswith(source.file_hash)
