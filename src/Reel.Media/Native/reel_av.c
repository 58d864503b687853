// A flat C surface over libavformat, libavcodec and libswscale for Reel.Media.
// Compiled against the system headers at build time, so no struct layout is guessed on the C# side.
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define REEL_EXPORT __attribute__((visibility("default")))

enum { REEL_OK = 0, REEL_AGAIN = 1, REEL_EOF = 2 };
enum { REEL_PKT_KEY = 1, REEL_PKT_CORRUPT = 2, REEL_PKT_DISCARD = 4 };

typedef struct {
    int stream_index;
    int width, height;
    int pix_fmt;
    int tb_num, tb_den;
    int rate_num, rate_den;
    int64_t stream_start;     // stream time base, or INT64_MIN when unknown
    int64_t format_start_us;  // container start, microseconds, or INT64_MIN
    int64_t duration_us;      // container duration, microseconds, or INT64_MIN
    int64_t declared_frames;  // frame count the container declares, 0 if none
    int reorders;             // 1 when presentation order differs from decode order
    int rotation;             // clockwise degrees (0, 90, 180, 270) that make the picture upright
    int color_range;          // AVColorRange
    int colorspace;           // AVColorSpace
    int audio_streams;
    char codec_name[32];
    char pix_fmt_name[32];
} reel_video_info;

typedef struct {
    uint8_t *data[4];
    int linesize[4];
    int width, height;
    int format;
    int key_frame;
    int color_range;
    int colorspace;
    int corrupt;
    int64_t pts;
} reel_frame;

typedef struct {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    int stream;
} reel_reader;

static void set_error(int code, const char *what, char *err, int errlen) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(code, buf, sizeof buf);
    snprintf(err, (size_t)errlen, "%s: %s", what, buf);
}

static int pick_video_stream(AVFormatContext *fmt) {
    int best = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (best >= 0 && !(fmt->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        return best;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        AVStream *st = fmt->streams[i];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
            return (int)i;
    }
    return -1;
}

static int clockwise_rotation(AVStream *st) {
    const uint8_t *matrix = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (!matrix) return 0;
    double theta = -round(av_display_rotation_get((const int32_t *)matrix));
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    int quarter = (int)lround(theta / 90) % 4;
    return quarter * 90;
}

REEL_EXPORT void reel_close(reel_reader *r) {
    if (!r) return;
    sws_freeContext(r->sws);
    av_frame_free(&r->frame);
    av_packet_free(&r->pkt);
    avcodec_free_context(&r->dec);
    avformat_close_input(&r->fmt);
    av_free(r);
}

// Opens a file, picks its video stream and opens a decoder with the given thread count; analyze reads the
// streams fully (needed for facts such as reordering delay, not for decoding).
// Returns 0, or a negative code with a one-line reason in err.
REEL_EXPORT int reel_open(const char *path, int threads, int analyze, reel_reader **out, reel_video_info *info, char *err, int errlen) {
    *out = NULL;
    memset(info, 0, sizeof *info);
    av_log_set_level(AV_LOG_QUIET);
    reel_reader *r = av_mallocz(sizeof *r);
    if (!r) return AVERROR(ENOMEM);
    int ret = avformat_open_input(&r->fmt, path, NULL, NULL);
    if (ret < 0) { set_error(ret, "cannot open as media", err, errlen); reel_close(r); return ret; }
    // Stream analysis decodes a few frames. A decoder reopening a file already probed can skip it when the
    // container's header already names the codec and size; the decoder reads the rest from the stream itself.
    r->stream = analyze ? -1 : pick_video_stream(r->fmt);
    if (r->stream < 0 || r->fmt->streams[r->stream]->codecpar->codec_id == AV_CODEC_ID_NONE ||
        r->fmt->streams[r->stream]->codecpar->width <= 0) {
        ret = avformat_find_stream_info(r->fmt, NULL);
        if (ret < 0) { set_error(ret, "cannot read stream info", err, errlen); reel_close(r); return ret; }
    }
    r->stream = pick_video_stream(r->fmt);
    if (r->stream < 0) {
        snprintf(err, (size_t)errlen, "no video stream");
        reel_close(r);
        return AVERROR_STREAM_NOT_FOUND;
    }
    for (unsigned i = 0; i < r->fmt->nb_streams; i++) {
        AVStream *st = r->fmt->streams[i];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) info->audio_streams++;
        if ((int)i != r->stream) st->discard = AVDISCARD_ALL;
    }
    AVStream *st = r->fmt->streams[r->stream];
    AVCodecParameters *par = st->codecpar;
    snprintf(info->codec_name, sizeof info->codec_name, "%s", avcodec_get_name(par->codec_id));
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec) {
        char tag[AV_FOURCC_MAX_STRING_SIZE] = {0};
        av_fourcc_make_string(tag, par->codec_tag);
        if (par->codec_id == AV_CODEC_ID_NONE)
            snprintf(err, (size_t)errlen, "unsupported video codec (unknown codec tag '%s')", tag);
        else
            snprintf(err, (size_t)errlen, "unsupported video codec '%s': this ffmpeg build has no decoder for it", info->codec_name);
        reel_close(r);
        return AVERROR_DECODER_NOT_FOUND;
    }
    r->dec = avcodec_alloc_context3(codec);
    r->pkt = av_packet_alloc();
    r->frame = av_frame_alloc();
    if (!r->dec || !r->pkt || !r->frame) { reel_close(r); return AVERROR(ENOMEM); }
    ret = avcodec_parameters_to_context(r->dec, par);
    if (ret >= 0) {
        r->dec->pkt_timebase = st->time_base;
        r->dec->thread_count = threads > 0 ? threads : 1;
        r->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
        ret = avcodec_open2(r->dec, codec, NULL);
    }
    if (ret < 0) { set_error(ret, "cannot open the video decoder", err, errlen); reel_close(r); return ret; }

    info->stream_index = r->stream;
    info->width = par->width;
    info->height = par->height;
    info->pix_fmt = par->format;
    const char *pix_name = av_get_pix_fmt_name((enum AVPixelFormat)par->format);
    snprintf(info->pix_fmt_name, sizeof info->pix_fmt_name, "%s", pix_name ? pix_name : "unknown");
    info->tb_num = st->time_base.num;
    info->tb_den = st->time_base.den;
    AVRational rate = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    info->rate_num = rate.num;
    info->rate_den = rate.den;
    info->stream_start = st->start_time == AV_NOPTS_VALUE ? INT64_MIN : st->start_time;
    info->format_start_us = r->fmt->start_time == AV_NOPTS_VALUE ? INT64_MIN : r->fmt->start_time;
    info->duration_us = r->fmt->duration == AV_NOPTS_VALUE ? INT64_MIN : r->fmt->duration;
    info->declared_frames = st->nb_frames;
    info->reorders = par->video_delay > 0 || r->dec->has_b_frames > 0;
    info->rotation = clockwise_rotation(st);
    info->color_range = par->color_range;
    info->colorspace = par->color_space;
    *out = r;
    return 0;
}

// Reads the next packet of the video stream and keeps it for reel_send_packet.
// Returns REEL_OK, REEL_EOF, or a negative error.
REEL_EXPORT int reel_read_packet(reel_reader *r, int64_t *pts, int64_t *dts, int64_t *duration, int *flags) {
    for (;;) {
        av_packet_unref(r->pkt);
        int ret = av_read_frame(r->fmt, r->pkt);
        if (ret == AVERROR_EOF) return REEL_EOF;
        if (ret < 0) return ret;
        if (r->pkt->stream_index != r->stream) continue;
        *pts = r->pkt->pts == AV_NOPTS_VALUE ? INT64_MIN : r->pkt->pts;
        *dts = r->pkt->dts == AV_NOPTS_VALUE ? INT64_MIN : r->pkt->dts;
        *duration = r->pkt->duration;
        int f = 0;
        if (r->pkt->flags & AV_PKT_FLAG_KEY) f |= REEL_PKT_KEY;
        if (r->pkt->flags & AV_PKT_FLAG_CORRUPT) f |= REEL_PKT_CORRUPT;
        if (r->pkt->flags & AV_PKT_FLAG_DISCARD) f |= REEL_PKT_DISCARD;
        *flags = f;
        return REEL_OK;
    }
}

// Sends the packet last read to the decoder; skip_nonref lets the decoder drop frames nothing refers to.
REEL_EXPORT int reel_send_packet(reel_reader *r, int skip_nonref) {
    r->dec->skip_frame = skip_nonref ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
    int ret = avcodec_send_packet(r->dec, r->pkt);
    return ret == AVERROR(EAGAIN) ? REEL_AGAIN : ret;
}

REEL_EXPORT int reel_send_eof(reel_reader *r) {
    int ret = avcodec_send_packet(r->dec, NULL);
    return ret == AVERROR_EOF ? REEL_OK : ret;
}

// Returns REEL_OK with the next decoded frame (valid until the next call), REEL_AGAIN, REEL_EOF, or an error.
REEL_EXPORT int reel_receive_frame(reel_reader *r, reel_frame *f) {
    int ret = avcodec_receive_frame(r->dec, r->frame);
    if (ret == AVERROR(EAGAIN)) return REEL_AGAIN;
    if (ret == AVERROR_EOF) return REEL_EOF;
    if (ret < 0) return ret;
    AVFrame *fr = r->frame;
    for (int i = 0; i < 4; i++) { f->data[i] = fr->data[i]; f->linesize[i] = fr->linesize[i]; }
    f->width = fr->width;
    f->height = fr->height;
    f->format = fr->format;
    f->key_frame = fr->key_frame;
    f->color_range = fr->color_range;
    f->colorspace = fr->colorspace;
    f->corrupt = (fr->flags & AV_FRAME_FLAG_CORRUPT) || fr->decode_error_flags;
    f->pts = fr->best_effort_timestamp == AV_NOPTS_VALUE ? INT64_MIN : fr->best_effort_timestamp;
    return REEL_OK;
}

// Seeks to the last keyframe at or before ts (stream time base) and resets the decoder.
REEL_EXPORT int reel_seek(reel_reader *r, int64_t ts) {
    int ret = av_seek_frame(r->fmt, r->stream, ts, AVSEEK_FLAG_BACKWARD);
    avcodec_flush_buffers(r->dec);
    return ret < 0 ? ret : REEL_OK;
}

// Converts (and scales) the frame last received into caller-owned planes of dst_fmt.
// Full-range destinations get full-range output; the source range comes from the frame.
// fast trades the last bit of accuracy (exact rounding, full chroma interpolation) for speed, as analysis can.
REEL_EXPORT int reel_convert(reel_reader *r, int dst_fmt, int dst_w, int dst_h, uint8_t **dst_data, const int *dst_linesize, int fast) {
    AVFrame *fr = r->frame;
    int same_size = dst_w == fr->width && dst_h == fr->height;
    int flags = fast ? SWS_FAST_BILINEAR
                     : (same_size ? SWS_POINT : SWS_BICUBIC) | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP;
    r->sws = sws_getCachedContext(r->sws, fr->width, fr->height, (enum AVPixelFormat)fr->format,
                                  dst_w, dst_h, (enum AVPixelFormat)dst_fmt, flags, NULL, NULL, NULL);
    if (!r->sws) return AVERROR(EINVAL);
    const AVPixFmtDescriptor *src_desc = av_pix_fmt_desc_get((enum AVPixelFormat)fr->format);
    const AVPixFmtDescriptor *dst_desc = av_pix_fmt_desc_get((enum AVPixelFormat)dst_fmt);
    int src_full = fr->color_range == AVCOL_RANGE_JPEG || (src_desc && (src_desc->flags & AV_PIX_FMT_FLAG_RGB)) ||
                   fr->format == AV_PIX_FMT_YUVJ420P || fr->format == AV_PIX_FMT_YUVJ422P || fr->format == AV_PIX_FMT_YUVJ444P;
    int dst_full = (dst_desc && (dst_desc->flags & AV_PIX_FMT_FLAG_RGB)) ||
                   dst_fmt == AV_PIX_FMT_YUVJ420P || dst_fmt == AV_PIX_FMT_YUVJ422P || dst_fmt == AV_PIX_FMT_YUVJ444P;
    const int *coefficients = sws_getCoefficients(fr->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT);
    sws_setColorspaceDetails(r->sws, coefficients, src_full, coefficients, dst_full, 0, 1 << 16, 1 << 16);
    int h = sws_scale(r->sws, (const uint8_t *const *)fr->data, fr->linesize, 0, fr->height, dst_data, dst_linesize);
    return h == dst_h ? REEL_OK : AVERROR(EINVAL);
}

// Encodes one picture with a libavcodec image encoder (png, libwebp) into a buffer the caller frees with reel_free.
REEL_EXPORT int reel_encode_image(const char *encoder, int pix_fmt, int width, int height, uint8_t **data, const int *linesize,
                                  int quality, uint8_t **out, int *out_size, char *err, int errlen) {
    *out = NULL;
    *out_size = 0;
    const AVCodec *codec = avcodec_find_encoder_by_name(encoder);
    if (!codec) { snprintf(err, (size_t)errlen, "this ffmpeg build has no '%s' encoder", encoder); return AVERROR_ENCODER_NOT_FOUND; }
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    AVFrame *frame = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int ret = AVERROR(ENOMEM);
    if (!enc || !frame || !pkt) goto done;
    enc->width = width;
    enc->height = height;
    enc->pix_fmt = (enum AVPixelFormat)pix_fmt;
    enc->time_base = (AVRational){1, 25};
    enc->thread_count = 1;
    if (!strcmp(encoder, "libwebp")) {
        av_opt_set_double(enc->priv_data, "quality", quality, 0);
    } else if (!strcmp(encoder, "png")) {
        enc->compression_level = 3;  // zlib level: close to the best size at a fraction of level 9's time
    }
    ret = avcodec_open2(enc, codec, NULL);
    if (ret < 0) { set_error(ret, "cannot open the image encoder", err, errlen); goto done; }
    frame->format = pix_fmt;
    frame->width = width;
    frame->height = height;
    for (int i = 0; i < 4; i++) { frame->data[i] = data[i]; frame->linesize[i] = linesize[i]; }
    ret = avcodec_send_frame(enc, frame);
    if (ret >= 0) ret = avcodec_send_frame(enc, NULL);
    if (ret >= 0) ret = avcodec_receive_packet(enc, pkt);
    if (ret < 0) { set_error(ret, "cannot encode the image", err, errlen); goto done; }
    *out = av_malloc((size_t)pkt->size);
    if (!*out) { ret = AVERROR(ENOMEM); goto done; }
    memcpy(*out, pkt->data, (size_t)pkt->size);
    *out_size = pkt->size;
    ret = REEL_OK;
done:
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&enc);
    return ret;
}

// Lays out a picture of pix_fmt as av_frame_get_buffer does, so that every writer FFmpeg has (libswscale's SIMD
// paths, encoders) stays inside it: each line is a multiple of 64 bytes (vector code writes whole blocks past the
// last pixel), the height is rounded up to 32 rows, and 64 bytes of padding follow every plane. Fills linesize and
// offset (from the buffer's start) per plane and returns the bytes to allocate, or a negative error.
REEL_EXPORT int64_t reel_image_layout(int pix_fmt, int width, int height, int linesize[4], int64_t offset[4]) {
    enum { ALIGN = 64, ROWS = 32, PLANE_PADDING = 64 };
    memset(linesize, 0, 4 * sizeof *linesize);
    memset(offset, 0, 4 * sizeof *offset);
    if (width <= 0 || height <= 0 || av_image_check_size((unsigned)width, (unsigned)height, 0, NULL) < 0) return AVERROR(EINVAL);
    int ret = 0;
    // As av_frame_get_buffer: widen by growing powers of two until the first line is aligned.
    for (int i = 1; i <= ALIGN; i += i) {
        ret = av_image_fill_linesizes(linesize, (enum AVPixelFormat)pix_fmt, FFALIGN(width, i));
        if (ret < 0) return ret;
        if (!(linesize[0] & (ALIGN - 1))) break;
    }
    ptrdiff_t lines[4] = {0};
    for (int i = 0; i < 4 && linesize[i]; i++) {
        linesize[i] = FFALIGN(linesize[i], ALIGN);
        lines[i] = linesize[i];
    }
    size_t sizes[4] = {0};
    ret = av_image_fill_plane_sizes(sizes, (enum AVPixelFormat)pix_fmt, FFALIGN(height, ROWS), lines);
    if (ret < 0) return ret;
    int64_t total = 0;
    for (int i = 0; i < 4 && sizes[i]; i++) {
        offset[i] = total;
        total += (int64_t)sizes[i] + PLANE_PADDING;
    }
    return total;
}

REEL_EXPORT void reel_free(void *p) { av_free(p); }

REEL_EXPORT int reel_pix_fmt(const char *name) { return av_get_pix_fmt(name); }

REEL_EXPORT void reel_error_string(int code, char *buf, int len) { av_strerror(code, buf, (size_t)len); }

// ---- Joining encoded pieces with the source's own frame timing ----
// Rendered pieces are encoded at a constant rate (raw frames on a pipe carry no timestamps). The joiner copies their
// packets, without re-encoding, into one video-only file in which frame i is presented at pts[i] (the source's
// timestamps, time base tb), so variable-rate sources keep every frame's time and the audio stays in sync.
typedef struct {
    char *path;
    int frames;
    int64_t *sorted_pts;  // the piece's packet timestamps in presentation order: a packet's rank is its frame
} reel_piece;

typedef struct {
    int64_t *pts;
    int frame_count;
    int64_t last_duration;
    AVRational tb;
    reel_piece *pieces;
    int piece_count, piece_capacity;
    int frames_seen;
    int delay;  // reorder depth over all pieces: decode position minus presentation position, at most
} reel_joiner;

static int compare_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int rank_of(const reel_piece *p, int64_t pts) {
    const int64_t *hit = bsearch(&pts, p->sorted_pts, (size_t)p->frames, sizeof *hit, compare_int64);
    return hit ? (int)(hit - p->sorted_pts) : -1;
}

static int open_piece(const char *path, AVFormatContext **fmt, int *stream, char *err, int errlen) {
    *fmt = NULL;
    int ret = avformat_open_input(fmt, path, NULL, NULL);
    if (ret < 0) { set_error(ret, "cannot open a rendered piece", err, errlen); return ret; }
    *stream = av_find_best_stream(*fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (*stream < 0) { snprintf(err, (size_t)errlen, "a rendered piece has no video"); avformat_close_input(fmt); return AVERROR_STREAM_NOT_FOUND; }
    return 0;
}

REEL_EXPORT void reel_join_free(reel_joiner *j) {
    if (!j) return;
    for (int i = 0; i < j->piece_count; i++) { av_free(j->pieces[i].path); av_free(j->pieces[i].sorted_pts); }
    av_free(j->pieces);
    av_free(j->pts);
    av_free(j);
}

// pts: frame_count strictly increasing timestamps in time base tb_num/tb_den; last_duration: how long the last shows.
REEL_EXPORT int reel_join_begin(const int64_t *pts, int frame_count, int64_t last_duration, int tb_num, int tb_den, reel_joiner **out) {
    *out = NULL;
    if (frame_count <= 0 || tb_num <= 0 || tb_den <= 0 || last_duration <= 0) return AVERROR(EINVAL);
    for (int i = 1; i < frame_count; i++)
        if (pts[i] <= pts[i - 1]) return AVERROR(EINVAL);
    reel_joiner *j = av_mallocz(sizeof *j);
    if (!j) return AVERROR(ENOMEM);
    j->pts = av_malloc_array((size_t)frame_count, sizeof *j->pts);
    if (!j->pts) { reel_join_free(j); return AVERROR(ENOMEM); }
    memcpy(j->pts, pts, (size_t)frame_count * sizeof *pts);
    j->frame_count = frame_count;
    j->last_duration = last_duration;
    j->tb = (AVRational){tb_num, tb_den};
    *out = j;
    return REEL_OK;
}

// Adds the next piece in order: reads its packets' timestamps (not their data) to learn its frames and reordering.
REEL_EXPORT int reel_join_add(reel_joiner *j, const char *path, char *err, int errlen) {
    if (errlen > 0) err[0] = 0;
    if (j->piece_count == j->piece_capacity) {
        int capacity = j->piece_capacity ? 2 * j->piece_capacity : 16;
        reel_piece *grown = av_realloc_array(j->pieces, (size_t)capacity, sizeof *grown);
        if (!grown) return AVERROR(ENOMEM);
        j->pieces = grown;
        j->piece_capacity = capacity;
    }
    reel_piece *p = &j->pieces[j->piece_count];
    memset(p, 0, sizeof *p);
    AVFormatContext *fmt;
    int stream, ret = open_piece(path, &fmt, &stream, err, errlen);
    if (ret < 0) return ret;
    AVPacket *pkt = av_packet_alloc();
    int64_t *decode_order = NULL;
    int count = 0, capacity = 0;
    ret = pkt ? 0 : AVERROR(ENOMEM);
    while (ret >= 0 && (ret = av_read_frame(fmt, pkt)) >= 0) {
        if (pkt->stream_index == stream) {
            if (pkt->pts == AV_NOPTS_VALUE) { snprintf(err, (size_t)errlen, "a rendered piece has a frame without a timestamp"); ret = AVERROR_INVALIDDATA; }
            else if (count == capacity) {
                capacity = capacity ? 2 * capacity : 256;
                int64_t *grown = av_realloc_array(decode_order, (size_t)capacity, sizeof *grown);
                if (!grown) ret = AVERROR(ENOMEM); else decode_order = grown;
            }
            if (ret >= 0) decode_order[count++] = pkt->pts;
        }
        av_packet_unref(pkt);
    }
    if (ret == AVERROR_EOF) ret = 0;
    else if (ret < 0 && !err[0]) set_error(ret, "cannot read a rendered piece", err, errlen);
    if (ret >= 0 && (count == 0 || j->frames_seen + count > j->frame_count)) {
        snprintf(err, (size_t)errlen, "the rendered pieces hold more frames than the source");
        ret = AVERROR_INVALIDDATA;
    }
    if (ret >= 0) {
        p->sorted_pts = av_malloc_array((size_t)count, sizeof *p->sorted_pts);
        p->path = av_strdup(path);
        if (!p->sorted_pts || !p->path) ret = AVERROR(ENOMEM);
    }
    if (ret >= 0) {
        memcpy(p->sorted_pts, decode_order, (size_t)count * sizeof *decode_order);
        qsort(p->sorted_pts, (size_t)count, sizeof *p->sorted_pts, compare_int64);
        p->frames = count;
        for (int i = 1; i < count && ret >= 0; i++)
            if (p->sorted_pts[i] == p->sorted_pts[i - 1]) { snprintf(err, (size_t)errlen, "a rendered piece repeats a timestamp"); ret = AVERROR_INVALIDDATA; }
        for (int i = 0; i < count && ret >= 0; i++) {
            int behind = i - rank_of(p, decode_order[i]);
            if (behind > j->delay) j->delay = behind;
        }
    }
    if (ret >= 0) {
        j->frames_seen += count;
        j->piece_count++;
    } else {
        av_free(p->sorted_pts);
        av_free(p->path);
        memset(p, 0, sizeof *p);
    }
    av_free(decode_order);
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    return ret;
}

// Writes every added piece's packets to out_path with the source's timing. Every frame must have been added.
REEL_EXPORT int reel_join_write(reel_joiner *j, const char *out_path, char *err, int errlen) {
    if (j->frames_seen != j->frame_count) {
        snprintf(err, (size_t)errlen, "the rendered pieces hold %d of the source's %d frames", j->frames_seen, j->frame_count);
        return AVERROR_INVALIDDATA;
    }
    AVFormatContext *out = NULL, *in = NULL;
    AVPacket *pkt = av_packet_alloc();
    int ret = pkt ? avformat_alloc_output_context2(&out, NULL, NULL, out_path) : AVERROR(ENOMEM);
    if (ret < 0) { set_error(ret, "cannot create the joined video", err, errlen); goto done; }
    int first = 0;  // the global position (decode and presentation order) of the current piece's first frame
    for (int k = 0; k < j->piece_count; k++) {
        const reel_piece *p = &j->pieces[k];
        int stream;
        ret = open_piece(p->path, &in, &stream, err, errlen);
        if (ret < 0) goto done;
        if (k == 0) {
            AVStream *st = avformat_new_stream(out, NULL);
            if (!st) { ret = AVERROR(ENOMEM); goto done; }
            ret = avcodec_parameters_copy(st->codecpar, in->streams[stream]->codecpar);
            if (ret < 0) { set_error(ret, "cannot copy the codec parameters", err, errlen); goto done; }
            st->codecpar->codec_tag = 0;
            st->time_base = j->tb;
            ret = avio_open(&out->pb, out_path, AVIO_FLAG_WRITE);
            if (ret < 0) { set_error(ret, "cannot write the joined video", err, errlen); goto done; }
            ret = avformat_write_header(out, NULL);
            if (ret < 0) { set_error(ret, "cannot write the joined video's header", err, errlen); goto done; }
        }
        AVRational out_tb = out->streams[0]->time_base;
        int decoded = 0;
        while ((ret = av_read_frame(in, pkt)) >= 0) {
            if (pkt->stream_index != stream) { av_packet_unref(pkt); continue; }
            int rank = rank_of(p, pkt->pts);
            if (rank < 0 || decoded >= p->frames) {
                av_packet_unref(pkt);
                snprintf(err, (size_t)errlen, "a rendered piece changed while it was joined");
                ret = AVERROR_INVALIDDATA;
                goto done;
            }
            int shown = first + rank, position = first + decoded++ - j->delay;
            pkt->pts = j->pts[shown];
            // Decode times stay increasing and never pass presentation times: the delay covers every reordering.
            // Before the first frame, decode times step back by the first frame's duration, as an encoder's would.
            int64_t step = j->frame_count > 1 ? j->pts[1] - j->pts[0] : j->last_duration;
            pkt->dts = position >= 0 ? j->pts[position] : j->pts[0] + position * step;
            pkt->duration = shown + 1 < j->frame_count ? j->pts[shown + 1] - j->pts[shown] : j->last_duration;
            pkt->stream_index = 0;
            pkt->pos = -1;
            av_packet_rescale_ts(pkt, j->tb, out_tb);
            ret = av_interleaved_write_frame(out, pkt);
            if (ret < 0) { set_error(ret, "cannot write the joined video", err, errlen); goto done; }
        }
        if (ret != AVERROR_EOF) { set_error(ret, "cannot read a rendered piece", err, errlen); goto done; }
        avformat_close_input(&in);
        first += p->frames;
    }
    ret = av_write_trailer(out);
    if (ret < 0) set_error(ret, "cannot finish the joined video", err, errlen);
done:
    av_packet_free(&pkt);
    avformat_close_input(&in);
    if (out) {
        if (out->pb) avio_closep(&out->pb);
        avformat_free_context(out);
    }
    return ret < 0 ? ret : REEL_OK;
}
