using Reel.Media.Decoding;
using Reel.Media.Imaging;

namespace Reel.Media.Extraction;

/// <summary>One input video's progress through a run. Counters are shared by the workers.</summary>
internal sealed class VideoJob(string input, OutputFolder folder)
{
    private readonly Lock _gate = new();
    private readonly List<SourceFrame> _missing = [];
    private string? _error;
    private int _outstanding = 1;
    private int _written;

    public string Input { get; } = input;

    public OutputFolder Folder { get; } = folder;

    public long StartedAt { get; set; }

    public VideoSource? Source { get; set; }

    public IReadOnlyList<SourceFrame> Planned { get; set; } = [];

    public FrameConverter? Converter { get; set; }

    public int Written => Volatile.Read(ref _written);

    public VideoResult? Result { get; set; }

    /// <summary>Counts work in flight (segments and frames); the job finishes when the count drops to zero.</summary>
    public void Hold(int count = 1) => Interlocked.Add(ref _outstanding, count);

    /// <returns>True for the caller that released the last piece of work.</returns>
    public bool Release() => Interlocked.Decrement(ref _outstanding) == 0;

    public void FrameWritten() => Interlocked.Increment(ref _written);

    public void Fail(string reason)
    {
        lock (_gate)
        {
            _error ??= reason;
        }
    }

    public void AddMissing(IEnumerable<SourceFrame> frames)
    {
        lock (_gate)
        {
            _missing.AddRange(frames);
        }
    }

    /// <summary>Why the video failed, in one line, or null when it did not.</summary>
    public string? FailureReason()
    {
        lock (_gate)
        {
            var written = Written == 0 ? "no frames written" : $"{Written} of {Planned.Count} frames written";
            if (_error is not null)
            {
                return _error;
            }
            if (Source?.Damage is { } damage)
            {
                var reached = Planned.Count > 0 ? $", up to frame {Planned[^1].Index} ({Source.Seconds(Planned[^1].Pts):0.###}s)" : "";
                return $"{damage}; {written}{reached}";
            }
            if (_missing.Count > 0)
            {
                var first = _missing.MinBy(f => f.Index);
                var more = _missing.Count > 1 ? $" and {_missing.Count - 1} more" : "";
                return $"cannot decode frame {first.Index} ({Source!.Seconds(first.Pts):0.###}s){more}; {written}";
            }
            return null;
        }
    }
}
