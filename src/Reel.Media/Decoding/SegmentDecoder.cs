using Reel.Media.Imaging;
using Reel.Media.Native;

namespace Reel.Media.Decoding;

/// <summary>
/// Decodes one <see cref="Segment"/> and stops at each selected frame. Frames nothing refers to and nobody
/// wants are skipped by the decoder; frames not selected are never converted or copied.
/// </summary>
public sealed class SegmentDecoder
{
    private readonly Segment _segment;
    private readonly MediaReader _reader;
    private readonly HashSet<long> _wantedPts;
    private AvNative.Frame _frame;
    private bool _hasFrame;
    private int _cursor;
    private int _sent;
    private long _ordinal;
    private bool _eofSent;
    private bool _done;

    private SegmentDecoder(Segment segment, MediaReader reader)
    {
        _segment = segment;
        _reader = reader;
        _wantedPts = [.. segment.Selected.Select(f => f.Pts)];
    }

    /// <summary>Selected frames the decoder never produced, in order.</summary>
    public List<SourceFrame> Missing { get; } = [];

    /// <summary>Positions the reader at the segment, reopening the file when it cannot seek there exactly.</summary>
    internal static SegmentDecoder Start(Segment segment, ref MediaReader? reader, int decoderThreads)
    {
        var source = segment.Source;
        if (segment.FromStart)
        {
            reader?.Dispose();
            reader = MediaReader.Open(source.Path, decoderThreads);
            return new SegmentDecoder(segment, reader);
        }

        reader ??= MediaReader.Open(source.Path, decoderThreads);

        var keyframe = source.Frames[segment.FirstFrame];
        if (reader.Seek(keyframe.Pts) && reader.ReadPacket(out var packet) && (packet.Pts ?? packet.Dts) <= keyframe.Pts)
        {
            var decoder = new SegmentDecoder(segment, reader);
            decoder.Send(packet);
            return decoder;
        }

        // The container's seek landed past the keyframe: decode from the start instead (slower, always exact).
        reader.Dispose();
        reader = MediaReader.Open(source.Path, decoderThreads);
        return new SegmentDecoder(segment, reader);
    }

    /// <summary>Decodes up to the next selected frame; false once the segment is done.</summary>
    public bool TryNext(out SourceFrame frame)
    {
        var selected = _segment.Selected;
        // The decoder reuses (or frees) the last frame's buffers on its next call: nothing may convert it after that.
        _hasFrame = false;
        while (!_done)
        {
            switch (_reader.ReceiveFrame(out _frame))
            {
                case FrameStatus.Frame:
                    var key = _segment.Source.HasTimestamps ? _frame.Pts : _ordinal++;
                    while (_cursor < selected.Count && selected[_cursor].Pts < key)
                    {
                        Missing.Add(selected[_cursor++]);
                    }
                    if (_cursor < selected.Count && selected[_cursor].Pts == key)
                    {
                        frame = selected[_cursor++];
                        _done = _cursor == selected.Count;
                        _hasFrame = true;
                        return true;
                    }
                    _done = _cursor == selected.Count;
                    break;
                case FrameStatus.NeedsInput when !_eofSent:
                    // Once every wanted packet is in, draining beats reading further.
                    if ((_sent < selected.Count || !_segment.Source.HasTimestamps) && _reader.ReadPacket(out var packet))
                    {
                        Send(packet);
                    }
                    else
                    {
                        _reader.SendEndOfStream();
                        _eofSent = true;
                    }
                    break;
                default:
                    _done = true;
                    break;
            }
        }
        while (_cursor < selected.Count)
        {
            Missing.Add(selected[_cursor++]);
        }
        frame = default;
        return false;
    }

    /// <summary>Converts the frame <see cref="TryNext"/> just stopped at.</summary>
    internal FrameImage Convert(FrameConverter converter) => converter.Convert(_reader, CurrentFrame());

    /// <summary>
    /// Writes the frame <see cref="TryNext"/> just stopped at into <paramref name="destination"/>, scaled to its size
    /// (the coded size, before rotation) and converted to its layout.
    /// </summary>
    /// <param name="destination">The picture to fill.</param>
    /// <param name="fast">Bilinear scaling without exact rounding: fine for analysis, about twice as fast.</param>
    public void Convert(FrameImage destination, bool fast = false)
    {
        CurrentFrame();
        _reader.Convert(destination, fast);
    }

    private ref readonly AvNative.Frame CurrentFrame()
    {
        if (!_hasFrame)
        {
            throw new InvalidOperationException("No decoded frame to convert: TryNext has not stopped at one, or the decoder has moved on.");
        }
        return ref _frame;
    }

    private void Send(PacketInfo packet)
    {
        var timestamps = _segment.Source.HasTimestamps;
        var wanted = !timestamps || _wantedPts.Contains(packet.Pts ?? packet.Dts ?? long.MinValue);
        if (wanted)
        {
            _sent++;
        }
        // A rejected packet is damaged data; the frames it held show up as missing.
        _reader.SendPacket(skipNonReference: timestamps && !wanted);
    }
}
