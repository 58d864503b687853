namespace Reel.Media.Imaging;

public enum ImageFormat
{
    Jpeg,
    Png,
    Webp,
}

public static class ImageFormats
{
    public static string Extension(this ImageFormat format) => format switch
    {
        ImageFormat.Png => "png",
        ImageFormat.Webp => "webp",
        _ => "jpg",
    };

    /// <summary>Parses "jpg", "jpeg", "png" or "webp".</summary>
    public static bool TryParse(string text, out ImageFormat format)
    {
        switch (text.Trim().ToUpperInvariant())
        {
            case "JPG" or "JPEG":
                format = ImageFormat.Jpeg;
                return true;
            case "PNG":
                format = ImageFormat.Png;
                return true;
            case "WEBP":
                format = ImageFormat.Webp;
                return true;
            default:
                format = default;
                return false;
        }
    }
}
