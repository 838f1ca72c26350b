import Graft

// A zoo architecture at 64 x 64 pixels (TrainedModel(contentsOf:) loads a weight file
// instead: a run's model.h5, or Keras / PyTorch weights brought in with `finetune import`).
let network = try TrainedModel(architecture: "resnet18", inputSize: 64)
let extractor = try FeatureExtractor(model: network.model, stage: "stage3")
let photos = try ImageFolder("photos")  // one sub-folder per class, PNG or JPEG files
let (features, labels, _) = extractor.extract(network.loader(photos))
print("stage3 features \(features.shape) for \(labels.count) images of \(photos.classNames.count) classes")
