namespace Reel.Media;

/// <summary>Reads a video's stream facts and the timestamps of all its frames, without decoding them.</summary>
public static class VideoProbe
{
    /// <exception cref="MediaException">The file is missing, empty, not a video, or its codec cannot be decoded.</exception>
    public static VideoSource Probe(string path, CancellationToken cancellationToken = default)
    {
        var file = new FileInfo(path);
        if (!file.Exists)
        {
            throw new MediaException("file not found");
        }
        if (file.Length == 0)
        {
            throw new MediaException("file is empty");
        }

        using var reader = MediaReader.Open(path, decoderThreads: 1, analyze: true);
        var info = reader.Info;
        var packets = new List<PacketInfo>();
        string? damage = null;
        try
        {
            while (reader.ReadPacket(out var packet))
            {
                if ((packets.Count & 1023) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
                if (packet.IsCorrupt)
                {
                    damage = $"the file is damaged: its data breaks off after {packets.Count} frames";
                    break;
                }
                packets.Add(packet);
            }
        }
        catch (MediaException e)
        {
            damage = $"{e.Message} after {packets.Count} frames";
        }
        if (info.DeclaredFrames > packets.Count)
        {
            damage = $"the file is truncated or damaged: only {packets.Count} of its {info.DeclaredFrames} frames can be read";
        }

        var timeBase = new Rational(info.TimeBaseNum, info.TimeBaseDen);
        var rate = info.RateDen > 0 && info.RateNum > 0 ? new Rational(info.RateNum, info.RateDen) : new Rational(25, 1);
        var nominalDuration = Math.Max(1, (long)Math.Round(1.0 / rate.Value / timeBase.Value));
        var kept = packets.Where(p => !p.IsDiscarded).ToList();
        if (kept.Count == 0)
        {
            throw new MediaException(damage ?? "the video stream has no frames");
        }

        var hasTimestamps = kept.All(p => p.Pts.HasValue || (info.Reorders == 0 && p.Dts.HasValue));
        var frames = new List<SourceFrame>(kept.Count);
        long endPts;
        if (hasTimestamps)
        {
            var ordered = kept
                .Select(p => (Pts: p.Pts ?? p.Dts!.Value, Dts: p.Dts ?? p.Pts ?? p.Dts!.Value, p.IsKey, p.Duration))
                .OrderBy(p => p.Pts)
                .ToList();
            for (var i = 0; i < ordered.Count; i++)
            {
                frames.Add(new SourceFrame(i, ordered[i].Pts, ordered[i].Dts, ordered[i].IsKey));
            }
            var last = ordered[^1];
            endPts = last.Pts + (last.Duration > 0 ? last.Duration : nominalDuration);
        }
        else
        {
            // No presentation timestamps: number frames in decode order on the nominal frame rate.
            for (var i = 0; i < kept.Count; i++)
            {
                frames.Add(new SourceFrame(i, i * nominalDuration, i * nominalDuration, kept[i].IsKey));
            }
            endPts = kept.Count * nominalDuration;
        }

        var startPts = info.FormatStartMicroseconds == long.MinValue
            ? (info.StreamStart == long.MinValue ? 0 : info.StreamStart)
            : MicrosecondsToTimeBase(info.FormatStartMicroseconds, timeBase);

        return new VideoSource
        {
            Path = path,
            Codec = reader.CodecName,
            PixelFormat = reader.PixelFormatName,
            Width = info.Width,
            Height = info.Height,
            Rotation = info.Rotation,
            TimeBase = timeBase,
            FrameRate = rate,
            AudioStreams = info.AudioStreams,
            StartPts = hasTimestamps ? startPts : 0,
            EndPts = endPts,
            Frames = frames,
            HasTimestamps = hasTimestamps,
            Damage = damage,
        };
    }

    private static long MicrosecondsToTimeBase(long microseconds, Rational timeBase)
    {
        // Same rounding FFmpeg's av_rescale_q uses: to nearest, halves away from zero.
        var num = (Int128)microseconds * timeBase.Denominator;
        var den = (Int128)1_000_000 * timeBase.Numerator;
        return (long)Sampling.FrameSampling.DivideRounded(num, den);
    }
}
