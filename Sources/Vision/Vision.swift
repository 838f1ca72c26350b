/// The Vision module (see DESIGN.md); its contents land with the issues that build it.
@_exported import Engine
