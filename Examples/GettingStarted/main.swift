import Graft

// Getting started (the DocC article of the same name shows this file verbatim): load a zoo
// model, extract features from a stage, fine-tune, save, predict. `photos` holds one
// sub-folder per class, PNG or JPEG files inside.

// 1. A pretrained zoo model: ResNet-18 trained on Open Clip Art at 64 px (`finetune zoo list`).
let pretrained = try TrainedModel(contentsOf: ZooDirectory.path + "/resnet18-clipart.h5")
print("\(pretrained.metadata.architecture): \(pretrained.classNames.count) classes, input \(pretrained.preprocessing.inputSize)")

// 2. Its stage-3 features, average-pooled, for every image of the folder.
let photos = try ImageFolder("photos")
let extractor = try FeatureExtractor(model: pretrained.model, stage: "stage3")
let (features, labels, _) = extractor.extract(pretrained.loader(photos))
print("stage3 features \(features.shape) for \(labels.count) images")

// 3. Fine-tune on the folder: `--base resnet --freeze 3`, a new head for its classes.
var options = FineTuneOptions(base: "resnet", freeze: .stages(3))
options.data = "photos"
options.epochs = 2
let result = try FineTune.run(options, log: .silent)
print(result.summaryLine)

// 4. Save: the run folder's model.h5 is the best epoch, with class names and preprocessing.
let tuned = try TrainedModel(contentsOf: result.runFolder + "/model.h5")
try WeightFile.save(tuned.model, to: "my-model.h5", metadata: tuned.metadata)

// 5. Predict: class probabilities for an image, with the model's own preprocessing.
let model = try TrainedModel(contentsOf: "my-model.h5")
let image = try ImageDecoder().decode(contentsOf: photos.files[0])
let probabilities = model.probabilities([image])[0]
let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
print("\(photos.files[0]): \(model.classNames[best]) with probability \(probabilities[best])")
