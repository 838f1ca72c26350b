// The umbrella module: `import Graft` brings in every library module.
@_exported import Engine
@_exported import Layers
@_exported import Optimizers
@_exported import Vision
@_exported import Zoo
@_exported import Report
@_exported import Transfer
@_exported import Logging
