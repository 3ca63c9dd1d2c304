/* h2post.c -- an HTTP/2 cleartext (prior knowledge) POST load generator for the ingest benchmark.
 *
 * Why not h2load: h2load sends the same request every time, and Tollgate dedupes deliveries
 * (Idempotency-Key, else SHA-256 of event + body), so after the first request h2load only
 * measures the cheap duplicate path. h2post gives every request its own Idempotency-Key
 * ("<prefix>-<seq>") and, with -p, writes the same sequence into the body in place of a
 * placeholder, so each request is a real enqueue.
 *
 *   h2post [-c CONNS] [-m STREAMS] (-n TOTAL | -D SECONDS) [-r RATE] [-W SECONDS]
 *          [-d BODYFILE] [-p PLACEHOLDER] [-H 'name: value']... [-k PREFIX | -K] [-T SECONDS] URL
 *
 * Closed loop by default: each connection keeps STREAMS requests in flight; latency runs
 * from the moment a request is handed to the session. With -r RATE the load is open loop:
 * request i is due at start + i/RATE whatever the answers do, and its latency runs from that
 * due time, so a stalled server is charged for the requests it delayed (no coordinated
 * omission). -W discards the answers of the first SECONDS (warm-up) from the statistics.
 * Ends with a human summary and one machine-readable "RESULT k=v ..." line.
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra -Werror -o h2post h2post.c -lnghttp2
 */
#define _GNU_SOURCE
#include <nghttp2/nghttp2.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OUTBUF_CAP (256 * 1024)
#define INBUF_CAP (64 * 1024)
#define MAX_HEADERS 32

struct conn;

struct stream {
    struct conn *conn;
    uint64_t seq;
    uint64_t t0_ns; /* latency origin: due time (open loop) or submit time (closed loop) */
    size_t off;     /* bytes of the body already handed to nghttp2 */
    int status;
    char digits[32]; /* the sequence, zero-padded to the placeholder's width */
};

struct conn {
    int fd;
    int idx;
    int connected;
    int dead;
    int want_out; /* EPOLLOUT armed */
    nghttp2_session *session;
    int active; /* streams in flight */
    unsigned char out[OUTBUF_CAP];
    size_t outlen, outoff;
};

static struct {
    /* options */
    int conns, streams;
    uint64_t total;    /* -n; 0: by duration */
    double duration_s; /* -D */
    double rate;       /* -r; 0: closed loop */
    double warmup_s;   /* -W */
    double drain_s;    /* -T */
    const char *body_path, *placeholder, *key_prefix;
    int no_key;
    nghttp2_nv hdrs[MAX_HEADERS];
    size_t nhdrs;
    char *host, *port, *path, *authority;
    /* body: prefix | digits | suffix */
    char *body;
    size_t body_len, ph_off, ph_len;
    char content_length[24];
    /* state */
    struct conn *cs;
    int epfd;
    uint64_t start_ns, stop_submit_ns, warm_end_ns, last_done_ns;
    uint64_t next_seq;   /* requests submitted */
    uint64_t scheduled;  /* open loop: requests whose due time has come */
    int stopping;        /* no more submissions */
    int rr;
    /* results */
    uint64_t done, warm_done, s2xx, s3xx, s4xx, s5xx, errors, other;
    uint32_t *lat_us;
    size_t nlat, caplat;
    uint64_t lat_max_us;
} G = {.conns = 1, .streams = 1, .drain_s = 10.0};

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("h2post: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        die("out of memory");
    return p;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: h2post [-c CONNS] [-m STREAMS] (-n TOTAL | -D SECONDS) [-r RATE] [-W SECONDS]\n"
            "              [-d BODYFILE] [-p PLACEHOLDER] [-H 'name: value']... [-k PREFIX | -K]\n"
            "              [-T SECONDS] http://HOST:PORT/PATH\n"
            "  -c  connections (1)            -m  max streams in flight per connection (1)\n"
            "  -n  total requests             -D  send for SECONDS, then wait for answers\n"
            "  -r  open loop: total requests per second, latency from each due time\n"
            "  -W  warm-up: answers in the first SECONDS are not counted\n"
            "  -d  request body file          -p  placeholder in the body replaced by the sequence\n"
            "  -H  extra header (repeatable)  -k  idempotency-key prefix (default bench-<pid>)\n"
            "  -K  send no idempotency-key    -T  seconds to wait for answers at the end (10)\n");
    exit(2);
}

static double parse_num(const char *s, const char *what)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || v < 0)
        die("bad %s: %s", what, s);
    return v;
}

static void add_header(const char *line)
{
    const char *colon = strchr(line, ':');
    if (colon == NULL || colon == line)
        die("bad header (want 'name: value'): %s", line);
    if (G.nhdrs >= MAX_HEADERS)
        die("too many headers");
    size_t nlen = (size_t)(colon - line);
    char *name = xmalloc(nlen + 1);
    for (size_t i = 0; i < nlen; i++)
        name[i] = (char)tolower((unsigned char)line[i]);
    name[nlen] = '\0';
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    char *value = strdup(v);
    if (value == NULL)
        die("out of memory");
    G.hdrs[G.nhdrs++] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, nlen, strlen(value),
                                     NGHTTP2_NV_FLAG_NONE};
}

static void parse_url(const char *url)
{
    static const char scheme[] = "http://";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        die("only http:// (h2c prior knowledge) URLs: %s", url);
    const char *h = url + sizeof scheme - 1, *slash = strchr(h, '/');
    size_t hostport_len = slash ? (size_t)(slash - h) : strlen(h);
    G.authority = strndup(h, hostport_len);
    G.path = strdup(slash ? slash : "/");
    const char *colon = memchr(h, ':', hostport_len);
    if (h[0] == '[') {
        const char *close = memchr(h, ']', hostport_len);
        if (close == NULL)
            die("bad URL: %s", url);
        G.host = strndup(h + 1, (size_t)(close - h - 1));
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        G.host = strndup(h, colon ? (size_t)(colon - h) : hostport_len);
    }
    G.port = colon ? strndup(colon + 1, (size_t)(h + hostport_len - colon - 1)) : strdup("80");
    if (!G.authority || !G.path || !G.host || !G.port)
        die("out of memory");
}

static void load_body(void)
{
    if (G.body_path == NULL) {
        G.body = strdup("");
        return;
    }
    FILE *f = fopen(G.body_path, "rb");
    if (f == NULL)
        die("cannot open %s: %s", G.body_path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        die("cannot stat %s", G.body_path);
    G.body_len = (size_t)st.st_size;
    G.body = xmalloc(G.body_len + 1);
    if (fread(G.body, 1, G.body_len, f) != G.body_len)
        die("cannot read %s", G.body_path);
    G.body[G.body_len] = '\0';
    fclose(f);
    if (G.placeholder) {
        G.ph_len = strlen(G.placeholder);
        char *p = G.ph_len ? memmem(G.body, G.body_len, G.placeholder, G.ph_len) : NULL;
        if (p == NULL)
            die("placeholder '%s' not found in %s", G.placeholder, G.body_path);
        if (G.ph_len < 10)
            die("placeholder '%s' is too short: the sequence needs at least 10 bytes", G.placeholder);
        if (G.ph_len > 20)
            G.ph_len = 20; /* the digits replace the first 20 bytes; the rest stays */
        G.ph_off = (size_t)(p - G.body);
    }
    snprintf(G.content_length, sizeof G.content_length, "%zu", G.body_len);
}

/* ---- latency ---- */

static void record(uint64_t t0_ns, uint64_t t1_ns)
{
    uint64_t us = (t1_ns - t0_ns) / 1000;
    if (G.nlat == G.caplat) {
        G.caplat = G.caplat ? G.caplat * 2 : 65536;
        G.lat_us = realloc(G.lat_us, G.caplat * sizeof *G.lat_us);
        if (G.lat_us == NULL)
            die("out of memory");
    }
    G.lat_us[G.nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    if (us > G.lat_max_us)
        G.lat_max_us = us;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(double p)
{
    if (G.nlat == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)G.nlat);
    if (i >= G.nlat)
        i = G.nlat - 1;
    return G.lat_us[i] / 1000.0;
}

/* ---- nghttp2 callbacks ---- */

static ssize_t read_body(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *user)
{
    (void)s, (void)sid, (void)user;
    struct stream *st = src->ptr;
    size_t n = 0;
    while (n < len && st->off < G.body_len) {
        size_t chunk;
        const char *from;
        if (G.ph_len && st->off >= G.ph_off && st->off < G.ph_off + G.ph_len) {
            from = st->digits + (st->off - G.ph_off);
            chunk = G.ph_off + G.ph_len - st->off;
        } else {
            size_t end = G.ph_len && st->off < G.ph_off ? G.ph_off : G.body_len;
            from = G.body + st->off;
            chunk = end - st->off;
        }
        if (chunk > len - n)
            chunk = len - n;
        memcpy(buf + n, from, chunk);
        n += chunk;
        st->off += chunk;
    }
    if (st->off >= G.body_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
    (void)flags, (void)user;
    if (frame->hd.type != NGHTTP2_HEADERS || namelen != 7 || memcmp(name, ":status", 7) != 0)
        return 0;
    struct stream *st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (st && valuelen == 3)
        st->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
    return 0;
}

static void submit_more(void);

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t error_code, void *user)
{
    (void)error_code, (void)user;
    struct stream *st = nghttp2_session_get_stream_user_data(s, sid);
    if (st == NULL)
        return 0;
    uint64_t t = now_ns();
    st->conn->active--;
    if (G.warmup_s > 0 && t < G.warm_end_ns) {
        G.warm_done++;
    } else {
        G.done++;
        G.last_done_ns = t;
        if (st->status >= 200 && st->status < 300)
            G.s2xx++;
        else if (st->status >= 300 && st->status < 400)
            G.s3xx++;
        else if (st->status >= 400 && st->status < 500)
            G.s4xx++;
        else if (st->status >= 500 && st->status < 600)
            G.s5xx++;
        else
            G.errors++; /* reset or no status */
        if (st->status > 0)
            record(st->t0_ns, t);
    }
    nghttp2_session_set_stream_user_data(s, sid, NULL);
    free(st);
    return 0;
}

/* ---- connections ---- */

static void set_events(struct conn *c)
{
    struct epoll_event ev = {.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(G.epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void conn_fail(struct conn *c, const char *why)
{
    if (c->dead)
        return;
    fprintf(stderr, "h2post: connection %d failed: %s (%d streams in flight)\n", c->idx, why, c->active);
    c->dead = 1;
    G.done += (uint64_t)c->active;
    G.errors += (uint64_t)c->active;
    c->active = 0;
    epoll_ctl(G.epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    /* The session's stream structs are not freed: the run ends soon and this is rare. */
    nghttp2_session_del(c->session);
    c->session = NULL;
}

/* Moves nghttp2's pending frames into the socket; arms EPOLLOUT when the kernel is full. */
static void conn_flush(struct conn *c)
{
    if (c->dead || !c->connected)
        return;
    for (;;) {
        while (c->outlen < OUTBUF_CAP - 16384) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->session, &data);
            if (n < 0) {
                conn_fail(c, nghttp2_strerror((int)n));
                return;
            }
            if (n == 0)
                break;
            if ((size_t)n > OUTBUF_CAP - c->outlen) { /* rare: a frame bigger than the room left */
                memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
                c->outlen -= c->outoff, c->outoff = 0;
                if ((size_t)n > OUTBUF_CAP - c->outlen)
                    die("frame of %zd bytes does not fit the output buffer", n);
            }
            memcpy(c->out + c->outlen, data, (size_t)n);
            c->outlen += (size_t)n;
        }
        if (c->outoff == c->outlen)
            break;
        ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!c->want_out)
                    c->want_out = 1, set_events(c);
                return;
            }
            if (errno == EINTR)
                continue;
            conn_fail(c, strerror(errno));
            return;
        }
        c->outoff += (size_t)w;
        if (c->outoff == c->outlen)
            c->outoff = c->outlen = 0;
    }
    if (c->want_out)
        c->want_out = 0, set_events(c);
}

static void conn_read(struct conn *c)
{
    static uint8_t buf[INBUF_CAP];
    for (;;) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n == 0) {
            conn_fail(c, "closed by peer");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            conn_fail(c, strerror(errno));
            return;
        }
        ssize_t r = nghttp2_session_mem_recv(c->session, buf, (size_t)n);
        if (r < 0) {
            conn_fail(c, nghttp2_strerror((int)r));
            return;
        }
        if ((size_t)n < sizeof buf)
            return;
    }
}

static void conn_open(struct conn *c, const struct addrinfo *ai)
{
    static nghttp2_session_callbacks *cbs;
    if (cbs == NULL) {
        if (nghttp2_session_callbacks_new(&cbs) != 0)
            die("nghttp2_session_callbacks_new");
        nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    }
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
        die("connect %s:%s: %s", G.host, G.port, strerror(errno));
    if (nghttp2_session_client_new(&c->session, cbs, c) != 0)
        die("nghttp2_session_client_new");
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    c->want_out = 1; /* EPOLLOUT tells when the connect finished */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(G.epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
}

/* ---- submission ---- */

static int submit_one(struct conn *c, uint64_t t0)
{
    struct stream *st = xmalloc(sizeof *st);
    *st = (struct stream){.conn = c, .seq = G.next_seq, .t0_ns = t0};
    char key[96];
    nghttp2_nv nva[MAX_HEADERS + 6];
    size_t n = 0;
#define NV(n_, v_, vl_) (nghttp2_nv){(uint8_t *)(n_), (uint8_t *)(v_), sizeof(n_) - 1, (vl_), NGHTTP2_NV_FLAG_NONE}
    nva[n++] = NV(":method", "POST", 4);
    nva[n++] = NV(":scheme", "http", 4);
    nva[n++] = NV(":authority", G.authority, strlen(G.authority));
    nva[n++] = NV(":path", G.path, strlen(G.path));
    nva[n++] = NV("content-length", G.content_length, strlen(G.content_length));
    if (!G.no_key) {
        int kl = snprintf(key, sizeof key, "%s-%" PRIu64, G.key_prefix, st->seq);
        nva[n++] = NV("idempotency-key", key, (size_t)kl);
    }
#undef NV
    for (size_t i = 0; i < G.nhdrs; i++)
        nva[n++] = G.hdrs[i];
    if (G.ph_len)
        snprintf(st->digits, sizeof st->digits, "%0*" PRIu64, (int)G.ph_len, st->seq);
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
    int32_t sid = nghttp2_submit_request(c->session, NULL, nva, n, &prd, st);
    if (sid < 0) {
        free(st);
        fprintf(stderr, "h2post: submit: %s\n", nghttp2_strerror(sid));
        return -1;
    }
    G.next_seq++;
    c->active++;
    return 0;
}

/* A live, connected connection with room for one more stream, round robin; NULL if none. */
static struct conn *pick_conn(void)
{
    for (int i = 0; i < G.conns; i++) {
        struct conn *c = &G.cs[(G.rr + i) % G.conns];
        if (!c->dead && c->connected && c->active < G.streams) {
            G.rr = (G.rr + i + 1) % G.conns;
            return c;
        }
    }
    return NULL;
}

static int budget_left(void)
{
    return G.total == 0 || G.next_seq < G.total;
}

/* Submits whatever is allowed now (closed loop: fill every slot; open loop: every due request). */
static void submit_more(void)
{
    if (G.stopping)
        return;
    uint64_t t = now_ns();
    if (G.duration_s > 0 && t >= G.stop_submit_ns) {
        G.stopping = 1;
        return;
    }
    if (G.rate > 0) {
        uint64_t due = (uint64_t)((double)(t - G.start_ns) * G.rate / 1e9) + 1;
        if (G.total && due > G.total)
            due = G.total;
        if (due > G.scheduled)
            G.scheduled = due;
        while (G.next_seq < G.scheduled) {
            struct conn *c = pick_conn();
            if (c == NULL)
                break; /* backlog: sent as slots free, still timed from the due time */
            uint64_t t0 = G.start_ns + (uint64_t)((double)G.next_seq * 1e9 / G.rate);
            if (submit_one(c, t0) != 0)
                break;
        }
    } else {
        struct conn *c;
        while (budget_left() && (c = pick_conn()) != NULL)
            if (submit_one(c, t) != 0)
                break;
    }
    if (!budget_left())
        G.stopping = 1;
}

static int inflight(void)
{
    int n = 0;
    for (int i = 0; i < G.conns; i++)
        n += G.cs[i].dead ? 0 : G.cs[i].active;
    return n;
}

static int alive(void)
{
    for (int i = 0; i < G.conns; i++)
        if (!G.cs[i].dead)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int ch;
    while ((ch = getopt(argc, argv, "c:m:n:D:r:W:d:p:H:k:KT:h")) != -1) {
        switch (ch) {
        case 'c': G.conns = (int)parse_num(optarg, "-c"); break;
        case 'm': G.streams = (int)parse_num(optarg, "-m"); break;
        case 'n': G.total = (uint64_t)parse_num(optarg, "-n"); break;
        case 'D': G.duration_s = parse_num(optarg, "-D"); break;
        case 'r': G.rate = parse_num(optarg, "-r"); break;
        case 'W': G.warmup_s = parse_num(optarg, "-W"); break;
        case 'd': G.body_path = optarg; break;
        case 'p': G.placeholder = optarg; break;
        case 'H': add_header(optarg); break;
        case 'k': G.key_prefix = optarg; break;
        case 'K': G.no_key = 1; break;
        case 'T': G.drain_s = parse_num(optarg, "-T"); break;
        default: usage();
        }
    }
    if (optind != argc - 1 || G.conns < 1 || G.streams < 1 || (G.total == 0) == (G.duration_s == 0))
        usage();
    parse_url(argv[optind]);
    load_body();
    static char default_prefix[48];
    if (G.key_prefix == NULL) {
        snprintf(default_prefix, sizeof default_prefix, "bench-%ld", (long)getpid());
        G.key_prefix = default_prefix;
    }
    signal(SIGPIPE, SIG_IGN);

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int gai = getaddrinfo(G.host, G.port, &hints, &ai);
    if (gai != 0)
        die("%s:%s: %s", G.host, G.port, gai_strerror(gai));
    G.epfd = epoll_create1(EPOLL_CLOEXEC);
    G.cs = calloc((size_t)G.conns, sizeof *G.cs);
    if (G.epfd < 0 || G.cs == NULL)
        die("setup failed");
    for (int i = 0; i < G.conns; i++) {
        G.cs[i].idx = i;
        conn_open(&G.cs[i], ai);
    }
    freeaddrinfo(ai);

    /* Wait until every connection is up (or failed), then start the clock. */
    struct epoll_event evs[256];
    uint64_t connect_deadline = now_ns() + 5000000000ull;
    for (;;) {
        int up = 0, dead = 0;
        for (int i = 0; i < G.conns; i++)
            up += G.cs[i].connected, dead += G.cs[i].dead;
        if (up + dead == G.conns)
            break;
        if (now_ns() > connect_deadline)
            die("timed out connecting to %s:%s", G.host, G.port);
        int n = epoll_wait(G.epfd, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->connected || c->dead)
                continue;
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err) {
                conn_fail(c, strerror(err));
                continue;
            }
            c->connected = 1;
            c->want_out = 0;
            set_events(c);
            conn_flush(c); /* preface + SETTINGS */
        }
    }
    if (!alive())
        die("could not connect to %s:%s", G.host, G.port);

    G.start_ns = now_ns();
    G.warm_end_ns = G.start_ns + (uint64_t)(G.warmup_s * 1e9);
    G.stop_submit_ns = G.start_ns + (uint64_t)(G.duration_s * 1e9);
    G.last_done_ns = G.start_ns;
    uint64_t drain_deadline = 0;
    submit_more();
    for (int i = 0; i < G.conns; i++)
        conn_flush(&G.cs[i]);

    for (;;) {
        uint64_t t = now_ns();
        if (G.stopping) {
            if (drain_deadline == 0)
                drain_deadline = t + (uint64_t)(G.drain_s * 1e9);
            if (inflight() == 0 || t >= drain_deadline || !alive())
                break;
        }
        /* Sleep until the next thing due: an open-loop send, the end of sending, the drain deadline. */
        uint64_t wake = t + 100000000ull;
        if (G.stopping)
            wake = drain_deadline < wake ? drain_deadline : wake;
        else {
            if (G.duration_s > 0 && G.stop_submit_ns < wake)
                wake = G.stop_submit_ns;
            if (G.rate > 0) {
                uint64_t next = G.start_ns + (uint64_t)((double)G.scheduled * 1e9 / G.rate);
                if (next < wake)
                    wake = next;
            }
        }
        uint64_t d = wake > t ? wake - t : 0;
        struct timespec ts = {(time_t)(d / 1000000000ull), (long)(d % 1000000000ull)};
        int n = epoll_pwait2(G.epfd, evs, 256, &ts, NULL);
        if (n < 0 && errno != EINTR)
            die("epoll_pwait2: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->dead)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                conn_read(c);
            if (!c->dead && (evs[i].events & EPOLLOUT))
                conn_flush(c);
        }
        submit_more();
        for (int i = 0; i < G.conns; i++)
            if (!G.cs[i].dead && (nghttp2_session_want_write(G.cs[i].session) || G.cs[i].outlen))
                conn_flush(&G.cs[i]);
    }

    uint64_t unanswered = (uint64_t)inflight();
    G.done += unanswered;
    G.errors += unanswered;
    for (int i = 0; i < G.conns; i++) {
        struct conn *c = &G.cs[i];
        if (c->dead)
            continue;
        nghttp2_session_terminate_session(c->session, NGHTTP2_NO_ERROR);
        conn_flush(c);
        close(c->fd);
        nghttp2_session_del(c->session);
    }

    uint64_t t_from = G.warmup_s > 0 ? G.warm_end_ns : G.start_ns;
    double secs = G.last_done_ns > t_from ? (double)(G.last_done_ns - t_from) / 1e9 : 0;
    double rps = secs > 0 ? (double)(G.done - unanswered) / secs : 0;
    qsort(G.lat_us, G.nlat, sizeof *G.lat_us, cmp_u32);
    printf("h2post: %d connections x %d streams, %s, body %zu bytes%s, %s\n", G.conns, G.streams,
           G.rate > 0 ? "open loop" : "closed loop", G.body_len, G.ph_len ? " (sequence in body)" : "",
           G.no_key ? "no idempotency-key" : "unique idempotency-key per request");
    if (G.rate > 0)
        printf("rate:       %.0f req/s scheduled, latency from each due time\n", G.rate);
    printf("requests:   %" PRIu64 " sent, %" PRIu64 " counted (%" PRIu64 " in warm-up)\n", G.next_seq, G.done,
           G.warm_done);
    printf("status:     2xx %" PRIu64 ", 3xx %" PRIu64 ", 4xx %" PRIu64 ", 5xx %" PRIu64 ", errors %" PRIu64 "\n",
           G.s2xx, G.s3xx, G.s4xx, G.s5xx, G.errors);
    printf("throughput: %.1f req/s over %.3f s\n", rps, secs);
    printf("latency ms: min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
           G.nlat ? G.lat_us[0] / 1000.0 : 0, pct_ms(50), pct_ms(90), pct_ms(99), pct_ms(99.9),
           (double)G.lat_max_us / 1000.0);
    printf("RESULT sent=%" PRIu64 " done=%" PRIu64 " warmup=%" PRIu64 " s2xx=%" PRIu64 " s3xx=%" PRIu64
           " s4xx=%" PRIu64 " s5xx=%" PRIu64 " errors=%" PRIu64 " secs=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f"
           " p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
           G.next_seq, G.done, G.warm_done, G.s2xx, G.s3xx, G.s4xx, G.s5xx, G.errors, secs, rps, pct_ms(50),
           pct_ms(90), pct_ms(99), pct_ms(99.9), (double)G.lat_max_us / 1000.0);
    return G.errors || G.s4xx || G.s5xx ? 1 : 0;
}
