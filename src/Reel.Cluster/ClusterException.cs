namespace Reel.Cluster;

/// <summary>A cluster that cannot be set up or joined as asked: a bad cluster file, database or address. The message is one line.</summary>
public sealed class ClusterException(string message, Exception? inner = null) : Exception(message, inner);
