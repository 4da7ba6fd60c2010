"""PyTorch twins of kerascnn's ResNet-50 and CIFAR ResNet-20, for the training-step benchmark only.

They match kerascnn's graphs layer for layer: ResNet-50 with the stride on the first 1x1
convolution of a bottleneck (He et al. 2015's released model and keras.applications; torchvision's
"v1.5" puts it on the 3x3) and projection shortcuts where the shape changes; ResNet-20 with option A
shortcuts (every other pixel, zero channels appended). Convolutions carry no bias (batch norm's
beta is one); MACs equal kerascnn.analysis' counts.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(cout, eps=1.001e-5))


class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = 4 * width
        self.branch = nn.Sequential(conv_bn(cin, width, 1, stride), nn.ReLU(inplace=True),
                                    conv_bn(width, width, 3), nn.ReLU(inplace=True),
                                    conv_bn(width, cout, 1))
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return F.relu(self.shortcut(x) + self.branch(x))


class Basic(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.branch = nn.Sequential(conv_bn(cin, cout, 3, stride), nn.ReLU(inplace=True),
                                    conv_bn(cout, cout, 3))
        self.stride, self.extra = stride, cout - cin

    def forward(self, x):
        skip = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
        if self.extra:
            skip = F.pad(skip, (0, 0, 0, 0, 0, self.extra))
        return F.relu(skip + self.branch(x))


def resnet50(num_classes: int = 1000) -> nn.Module:
    layers = [conv_bn(3, 64, 7, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for stage, (width, count) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
        for index in range(count):
            layers.append(Bottleneck(cin, width, 2 if index == 0 and stage > 0 else 1))
            cin = 4 * width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


def resnet20(num_classes: int = 10) -> nn.Module:
    layers = [conv_bn(3, 16, 3), nn.ReLU(inplace=True)]
    cin = 16
    for stage, width in enumerate((16, 32, 64)):
        for index in range(3):
            layers.append(Basic(cin, width, 2 if index == 0 and stage > 0 else 1))
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


MODELS = {"resnet50": resnet50, "resnet20": resnet20}


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, learning_rate: float = 0.01):
    """One SGD (momentum 0.9) step on cross-entropy from logits, as kerascnn's benchmark compiles."""
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=0.9)
    model.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return step
