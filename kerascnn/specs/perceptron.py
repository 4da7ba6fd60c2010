"""The fully connected networks as data: the registered perceptrons and the MLP.

F. Rosenblatt, "The Perceptron", Psychological Review 65(6), 1958; D. Rumelhart, G. Hinton,
R. Williams, "Learning representations by back-propagating errors", Nature 323, 1986.
"""

from kerascnn.specs.variant import variant

PERCEPTRON_VARIANTS = {
    "perceptron": variant("Rosenblatt's perceptron: one sigmoid unit on 784 inputs (Rosenblatt "
                          "1958)", input_shape=(784,), num_classes=1,
                          classifier_activation="sigmoid"),
    "single_layer": variant("A single layer of 3 ReLU neurons on 4 inputs, the notes' worked "
                            "example (y = f(x W + b))", input_shape=(4,), num_classes=3,
                            classifier_activation="relu"),
}
MLP_VARIANTS = {
    "mlp": variant("A multi-layer perceptron: hidden layers 256-128, then the classifier "
                   "(Rumelhart et al. 1986)", input_shape=(784,), num_classes=10),
}
