namespace Reel.Pipelines.Specs;

/// <summary>A pipeline spec that cannot be used; the message names the file and the field.</summary>
public sealed class SpecException(string message) : Exception(message);
