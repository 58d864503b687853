using System.Threading.Channels;
using OpenCvSharp;
using Reel.Operators;
using Reel.Operators.Analysis;

namespace Reel.Server.Analysis;

/// <summary>
/// Stores a file analysis's results while it runs, as the seed did: frames' rows are gathered and written in
/// batches (every <see cref="Interval"/>), each batch with the image of its greatest frame, so status, results and
/// frame images grow during the analysis. A batch's image is written before its rows, and its rows before the
/// greatest frame moves: status never names a frame whose results or image are missing. Workers only queue;
/// one writer does the database and file work off their threads. The engine's worker creates one per task of an
/// analysis's job (<see cref="AnalysisWatcher"/>); the job's output replaces what it stored once the job ends.
/// </summary>
internal sealed class StreamedResults : IFrameObserver, IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    private readonly AnalysisStore _store;
    private readonly Guid _id;
    private readonly string _framesDirectory;
    private readonly CancellationToken _cancellationToken;
    private readonly Channel<Batch> _batches = Channel.CreateUnbounded<Batch>(new() { SingleReader = true });
    private readonly Task _writer;
    private readonly Lock _lock = new();
    private List<AnalysisRow> _pending = [];
    private Mat? _picture;
    private int _pictureFrame = -1;
    private double _pictureScale = 1;
    private IReadOnlyList<AnalysisRow> _pictureRows = [];
    private long _lastFlush = Environment.TickCount64;
    private int _planned;
    private int _done;

    private readonly bool _writeCounts;

    /// <param name="writeCounts">Whether the frames planned and done are the analysis's (a whole run), not one piece's of several.</param>
    public StreamedResults(AnalysisStore store, Guid id, string framesDirectory, bool writeCounts, CancellationToken cancellationToken)
    {
        (_store, _id, _framesDirectory, _writeCounts, _cancellationToken) = (store, id, framesDirectory, writeCounts, cancellationToken);
        Directory.CreateDirectory(framesDirectory);
        _writer = Task.Run(WriteAsync, CancellationToken.None);
    }

    /// <summary>Where the kept image of a seed frame number is.</summary>
    public static string ImagePath(string framesDirectory, int frameNumber) => Path.Combine(framesDirectory, $"{frameNumber}.jpg");

    public void VideoStarted(string input, int framesPlanned)
    {
        Volatile.Write(ref _planned, framesPlanned);
        // The plan shows at once (progress bars), before the first frame's batch.
        _batches.Writer.TryWrite(new Batch([], -1, null, 1, [], framesPlanned, 0));
    }

    public void FramesDone(string input, int count) => Interlocked.Add(ref _done, count);

    public void VideoFinished(Reel.Media.Extraction.VideoResult result)
    {
    }

    public void FrameAnalyzed(string input, AnalysisFrame picture, double toSource, IReadOnlyList<FrameResult> results)
    {
        var rows = results.Select(ResultRows.From).ToList();
        lock (_lock)
        {
            _pending.AddRange(rows);
            if (picture.Index > _pictureFrame)
            {
                // Only the batch's greatest frame keeps its picture: the one a polling client asks for.
                _picture?.Dispose();
                _picture = picture.Bgr.Clone();
                (_pictureFrame, _pictureScale, _pictureRows) = (picture.Index, toSource, rows);
            }
            if (Environment.TickCount64 - _lastFlush >= Interval.TotalMilliseconds)
            {
                FlushLocked();
            }
        }
    }

    private void FlushLocked()
    {
        _lastFlush = Environment.TickCount64;
        if (_pending.Count == 0)
        {
            return;
        }
        _batches.Writer.TryWrite(new Batch(_pending, _pictureFrame, _picture, _pictureScale, _pictureRows, Volatile.Read(ref _planned), Volatile.Read(ref _done)));
        _pending = [];
        _picture = null;
        _pictureFrame = -1;
    }

    private async Task WriteAsync()
    {
        await foreach (var batch in _batches.Reader.ReadAllAsync(CancellationToken.None))
        {
            try
            {
                if (_cancellationToken.IsCancellationRequested)
                {
                    continue;
                }
                if (batch.Picture is { } picture)
                {
                    var path = ImagePath(_framesDirectory, SeedApi.FrameNumber(batch.Greatest));
                    var jpeg = FrameImages.DrawAndEncode(picture, batch.PictureRows, 1 / batch.Scale);
                    await File.WriteAllBytesAsync(path + ".tmp", jpeg, _cancellationToken);
                    File.Move(path + ".tmp", path, overwrite: true);
                }
                if (batch.Rows.Count > 0)
                {
                    await _store.SaveResultsAsync(_id, batch.Rows, replace: false, _cancellationToken);
                    await _store.SetProgressAsync(_id, batch.Rows.Max(r => r.Frame), _cancellationToken);
                }
                if (_writeCounts)
                {
                    await _store.SetCountsAsync(_id, batch.Planned, batch.Done, _cancellationToken);
                }
            }
            catch (OperationCanceledException) when (_cancellationToken.IsCancellationRequested)
            {
                // The server is stopping; a restarted server runs the analysis again.
            }
            finally
            {
                batch.Picture?.Dispose();
            }
        }
    }

    /// <summary>Writes what is still pending, waits for it, and lets go of the last picture.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            FlushLocked();
        }
        _batches.Writer.TryComplete();
        await _writer;
        lock (_lock)
        {
            _picture?.Dispose();
            _picture = null;
        }
    }

    private sealed record Batch(
        List<AnalysisRow> Rows, int Greatest, Mat? Picture, double Scale, IReadOnlyList<AnalysisRow> PictureRows, int Planned, int Done);
}
