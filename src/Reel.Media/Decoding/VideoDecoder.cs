namespace Reel.Media.Decoding;

/// <summary>
/// Decodes segments one after another on one thread, keeping the file open between segments of the same video
/// so that the next one costs a seek, not an open.
/// </summary>
public sealed class VideoDecoder : IDisposable
{
    private MediaReader? _reader;

    /// <exception cref="MediaException">The file cannot be opened.</exception>
    public SegmentDecoder Start(Segment segment, int decoderThreads = 1)
    {
        if (_reader is not null && _reader.Path != segment.Source.Path)
        {
            _reader.Dispose();
            _reader = null;
        }
        return SegmentDecoder.Start(segment, ref _reader, decoderThreads);
    }

    public void Dispose()
    {
        _reader?.Dispose();
        _reader = null;
    }
}
