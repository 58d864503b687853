using System.CommandLine;
using System.Security.Cryptography;
using Reel.Data;
using static Reel.Cli.Commands.DataCommandSupport;

namespace Reel.Cli.Commands;

/// <summary><c>reel get REPO@BRANCH:PATH -o OUT [-r]</c>: copy a file, or with -r a directory, out of a branch's head.</summary>
internal static class GetCommand
{
    public static Command Create()
    {
        var dataDir = DataDirOption();
        var address = new Argument<string>("REPO@BRANCH:PATH") { Description = "File or directory to get" };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write (a file's default: stdout)" };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "Get a directory, keeping relative paths under OUT" };
        var command = new Command(
            "get",
            "Copy a file or directory out of a branch's latest commit. Content is checked against its hash.\n\n"
            + "Examples:\n"
            + "  reel get videos@master:/clips/a.mp4 -o a.mp4\n"
            + "  reel get videos:/clips -o clips -r")
        {
            address, output, recursive, dataDir,
        };
        command.SetAction((result, cancellationToken) => Remote.For(result) is { } remote
            ? remote.RunAsync("get", async r =>
            {
                var source = DataAddress.Parse(result.GetRequiredValue(address));
                if (result.GetValue(recursive))
                {
                    throw Remote.Unsupported("over --server, get takes one file");
                }
                var path = Remote.FilePath(source.Repo, source.Branch, source.Path);
                if (result.GetValue(output) is { } destination)
                {
                    // Into a temporary file first, so a failed download never leaves a partial file under the name.
                    var temporary = destination + ".part";
                    try
                    {
                        await using (var file = File.Create(temporary))
                        {
                            await r.DownloadAsync(path, file);
                        }
                        File.Move(temporary, destination, overwrite: true);
                    }
                    finally
                    {
                        File.Delete(temporary);
                    }
                }
                else
                {
                    await using var stdout = Console.OpenStandardOutput();
                    await r.DownloadAsync(path, stdout);
                }
                return ExitCodes.Ok;
            })
            : RunAsync(
            "get", result, dataDir, () => DataAddress.Parse(result.GetRequiredValue(address)),
            async (store, source) =>
            {
                var head = await store.GetHeadAsync(source.Repo, source.Branch, cancellationToken);
                var files = await store.ListFilesAsync(head.Id, source.Path, cancellationToken);
                var destination = result.GetValue(output);
                if (files is [var file] && file.Path == source.Path)
                {
                    if (destination is null)
                    {
                        await using var stdout = Console.OpenStandardOutput();
                        await CopyAsync(store, file, stdout, cancellationToken);
                        return ExitCodes.Ok;
                    }
                    var path = Directory.Exists(destination) ? Path.Combine(destination, Path.GetFileName(file.Path)) : destination;
                    await WriteFileAsync(store, file, path, cancellationToken);
                    return ExitCodes.Ok;
                }
                if (files.Count == 0)
                {
                    throw new DataException(DataErrorKind.NotFound, $"{source} does not exist");
                }
                if (!result.GetValue(recursive) || destination is null)
                {
                    throw new DataException(DataErrorKind.Invalid, $"{source} is a directory; add -r and -o DIR to get it");
                }
                var prefix = source.Path == DataPath.Root ? "/" : source.Path + "/";
                foreach (var entry in files)
                {
                    var relative = entry.Path[prefix.Length..].Replace('/', Path.DirectorySeparatorChar);
                    await WriteFileAsync(store, entry, Path.Combine(destination, relative), cancellationToken);
                }
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }

    /// <summary>Writes beside the target and renames, so a file at its final name is always complete.</summary>
    private static async Task WriteFileAsync(DataStore store, FileEntry file, string path, CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + ".reel-tmp";
        try
        {
            await using (var target = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await CopyAsync(store, file, target, cancellationToken);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    private static async Task CopyAsync(DataStore store, FileEntry file, Stream target, CancellationToken cancellationToken)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var content = await store.Objects.OpenReadAsync(file.Hash, cancellationToken);
        var buffer = new byte[1 << 20];
        int read;
        while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
        {
            sha.AppendData(buffer, 0, read);
            await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
        if (Convert.ToHexStringLower(sha.GetHashAndReset()) != file.Hash)
        {
            throw new DataException(DataErrorKind.Conflict, $"{file.Path}: stored object {file.Hash} is damaged (its content no longer matches its hash)");
        }
    }
}
