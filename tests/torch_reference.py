"""Writes state-dict files and reference outputs with the source frameworks' own models.

Run as a separate process (`python tests/torch_reference.py cases.json out_dir`): importing
TensorFlow, then PyTorch, then torchvision in one process crashes, and the test process has
Keras loaded already. For each case this builds torchvision's or timm's model, gives it seeded
random weights and batch-norm statistics (so the statistics are exercised), saves its state dict
as the source publishes it (`torch.save` of the state dict for torchvision, `safetensors` for
timm), and records a random input (NHWC) and the model's eval-mode output:

    {out_dir}/{id}.pth or .safetensors, {id}_x.npy, {id}_y.npy

A case is a dict: id, source ("torchvision" or "timm"), model (the source's name), size (input
height and width), output ("logits" or "features": the last map, NHWC, as kerascnn's
include_top=False gives it), and optionally legacy_densenet (torchvision's published DenseNet
files name `norm.1` what its modules call `norm1`), features_only (leave the classifier out of
the file, for VGG's 102M-weight FC6 where a features check needs none of it) and kwargs for the
model constructor; or metadata: a list of torchvision model names, whose published ImageNet
weights (url, acc@1, acc@5, file size in MB, from torchvision's `get_model_weights`) go to
`{id}.json`.
"""

import json
import re
import sys

import numpy as np
import torch


def _randomize(model, seed):
    """Materializes a model built on the meta device with seeded random values: He-scaled
    uniform kernels (activations keep their scale through a hundred layers), small biases, and
    batch-norm parameters and statistics away from their identity values (so the statistics are
    exercised). One draw per tensor: the constructors' own initialization draws every kernel
    twice, and VGG's 123M classifier weights where only the features are compared."""
    generator = torch.Generator().manual_seed(seed)
    model.to_empty(device="cpu")
    filled = set()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                size = module.num_features
                module.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(size, generator=generator) * 0.1)
                module.running_mean.copy_(torch.randn(size, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
                module.num_batches_tracked.zero_()
            elif isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                bound = (6.0 / module.weight[0].numel()) ** 0.5
                module.weight.uniform_(-bound, bound, generator=generator)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
            else:
                continue
            filled.update(id(t) for t in (*module.parameters(recurse=False),
                                          *module.buffers(recurse=False)))
    unfilled = [name for name, t in (*model.named_parameters(), *model.named_buffers())
                if id(t) not in filled]
    if unfilled:
        raise ValueError(f"no random values for {unfilled[:3]}")
    return model.eval()


def _model(case):
    kwargs = case.get("kwargs", {})
    if case["source"] == "timm":
        import timm

        return timm.create_model(case["model"], pretrained=False, **kwargs)
    import torchvision

    return getattr(torchvision.models, case["model"])(weights=None, **kwargs)


def _features(model, case, x):
    if case["source"] == "timm":
        return model.forward_features(x)
    name = case["model"]
    if name.startswith(("vgg", "alexnet")):
        return model.features(x)
    if name.startswith("densenet"):
        return torch.relu(model.features(x))
    if name.startswith("shufflenet"):
        return model.conv5(model.stage4(model.stage3(model.stage2(model.maxpool(model.conv1(x))))))
    body = torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1,
                               model.layer2, model.layer3, model.layer4)
    return body(x)


def _save(model, case, out_dir):
    state = model.state_dict()
    if case["source"] == "timm":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()},
                  f"{out_dir}/{case['id']}.safetensors")
        return
    if case.get("legacy_densenet"):
        legacy = re.compile(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.")
        state = type(state)((legacy.sub(r"\1.\2.", key), value) for key, value in state.items())
    torch.save(state, f"{out_dir}/{case['id']}.pth")


def _metadata(case, out_dir):
    import torchvision

    published = {}
    for name in case["metadata"]:
        published[name] = [
            [w.url, w.meta["_metrics"]["ImageNet-1K"]["acc@1"],
             w.meta["_metrics"]["ImageNet-1K"]["acc@5"], w.meta["_file_size"]]
            for w in torchvision.models.get_model_weights(name) if "IMAGENET1K_V" in w.name
        ]
    with open(f"{out_dir}/{case['id']}.json", "w") as f:
        json.dump(published, f)


def main(cases_path, out_dir):
    with open(cases_path) as f:
        cases = json.load(f)
    for index, case in enumerate(cases):
        if "metadata" in case:
            _metadata(case, out_dir)
            continue
        with torch.device("meta"):
            model = _model(case)
        if case.get("features_only"):
            model.classifier = torch.nn.Identity()
        model = _randomize(model, seed=index)
        _save(model, case, out_dir)
        rng = np.random.default_rng(index)
        x = rng.normal(size=(2, case["size"], case["size"], 3)).astype("float32")
        with torch.no_grad():
            inputs = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
            y = model(inputs) if case["output"] == "logits" else _features(model, case, inputs)
        y = y.numpy()
        np.save(f"{out_dir}/{case['id']}_x.npy", x)
        np.save(f"{out_dir}/{case['id']}_y.npy", y if y.ndim == 2 else y.transpose(0, 2, 3, 1))


if __name__ == "__main__":
    main(*sys.argv[1:])
