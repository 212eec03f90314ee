/*
 * pit_file.c
 *		The point-in-time join's temp files: large sequential reads and
 *		writes.
 *
 * A BufFile reads and writes BLCKSZ (8 kB) at a time, a system call each:
 * a join that spills a few hundred megabytes makes tens of thousands of
 * them, which cost more than the copying on a virtual machine.  A PitFile
 * is a temp file (private, or in a shared file set under a name) with a
 * buffer of its own size: up to PIT_FILE_MAX_BUF for a file written alone,
 * less where many are written at once (a partition each).  Reads always
 * use PIT_FILE_MAX_BUF, one file at a time, and a read larger than that
 * goes straight into the caller's memory.
 *
 * Files are opened through fd.c: closed (a private one deleted) with the
 * resource owner if the join fails; a shared file set deletes its files
 * when it is detached.
 */
#include "pit_int.h"
#include "pgstat.h"
#include <fcntl.h>
#include <unistd.h>

struct PitFile
{
	File		file;
	MemoryContext cxt;			/* where it was made: its buffers too */
	bool		shared;			/* in a file set: flushed at close, kept */
	bool		writing;		/* buf holds bytes not yet written */
	off_t		filepos;		/* file offset of buf[0] */
	char	   *buf;
	Size		cap;
	Size		len;			/* valid bytes in buf */
	Size		pos;			/* read cursor in buf */
};

/* a file's write buffer for nfiles written at once within share bytes */
Size
pit_file_buffer(double share, int nfiles)
{
	double		each = share / Max(nfiles, 1);

	if (each >= PIT_FILE_MAX_BUF)
		return PIT_FILE_MAX_BUF;
	if (each <= PIT_FILE_MIN_BUF)
		return PIT_FILE_MIN_BUF;
	return (Size) each / PIT_FILE_MIN_BUF * PIT_FILE_MIN_BUF;
}

static void
file_write_all(PitFile *f, const char *data, Size len)
{
	while (len > 0)
	{
		int			chunk = (int) Min(len, (Size) 1 << 30);
		int			done;

		errno = 0;
		done = FileWrite(f->file, (char *) data, chunk, f->filepos, WAIT_EVENT_BUFFILE_WRITE);
		if (done != chunk)
		{
			if (done >= 0 && errno == 0)
				errno = ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write to temporary file \"%s\" of a point-in-time join: %m",
							FilePathName(f->file))));
		}
		f->filepos += done;
		data += done;
		len -= done;
	}
}

static void
file_flush(PitFile *f)
{
	if (f->writing && f->len > 0)
		file_write_all(f, f->buf, f->len);
	f->len = f->pos = 0;
}

static PitFile *
file_new(File file, bool shared, Size cap)
{
	PitFile    *f = palloc0(sizeof(PitFile));

	if (file < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create a temporary file for a point-in-time join: %m")));
	f->file = file;
	f->cxt = CurrentMemoryContext;
	f->shared = shared;
	f->cap = Max(cap, PIT_FILE_MIN_BUF);
	return f;
}

/* A new file, private (fs NULL) or in fs as name, written with a cap-byte buffer. */
PitFile *
pit_file_create(FileSet *fs, const char *name, Size cap)
{
	PitFile    *f;

	if (fs == NULL)
		f = file_new(OpenTemporaryFile(false), false, cap);
	else
		f = file_new(FileSetCreate(fs, name), true, cap);
	f->writing = true;
	return f;
}

/* A file of fs another process wrote and closed; NULL if missing_ok and absent. */
PitFile *
pit_file_open(FileSet *fs, const char *name, bool missing_ok)
{
	File		file = FileSetOpen(fs, name, O_RDONLY | PG_BINARY);

	if (file < 0)
	{
		if (missing_ok && errno == ENOENT)
			return NULL;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open temporary file \"%s\" of a point-in-time join: %m", name)));
	}
	return file_new(file, true, PIT_FILE_MAX_BUF);
}

void
pit_file_write(PitFile *f, const void *data, Size len)
{
	Assert(f->writing);
	if (f->buf == NULL)
		f->buf = MemoryContextAlloc(f->cxt, f->cap);
	if (f->len + len > f->cap)
	{
		file_flush(f);
		if (len >= f->cap)
		{
			file_write_all(f, data, len);
			return;
		}
	}
	memcpy(f->buf + f->len, data, len);
	f->len += len;
}

/* One read of up to amount bytes at the file's position: 0 at its end. */
static Size
file_read_chunk(PitFile *f, char *dst, Size amount)
{
	int			got = FileRead(f->file, dst, (int) Min(amount, (Size) 1 << 30),
							   f->filepos, WAIT_EVENT_BUFFILE_READ);

	if (got < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read temporary file \"%s\" of a point-in-time join: %m",
						FilePathName(f->file))));
	f->filepos += got;
	return (Size) got;
}

/* Up to len bytes into data: fewer only at the end of the file. */
Size
pit_file_read(PitFile *f, void *data, Size len)
{
	char	   *out = data;
	Size		done = 0;

	if (f->writing)
		pit_file_rewind(f);
	if (f->buf == NULL)
		f->buf = MemoryContextAlloc(f->cxt, f->cap);
	while (done < len)
	{
		Size		avail = f->len - f->pos;

		if (avail > 0)
		{
			Size		n = Min(avail, len - done);

			memcpy(out + done, f->buf + f->pos, n);
			f->pos += n;
			done += n;
			continue;
		}
		if (len - done >= f->cap)
		{
			/* a large read: straight into the caller's memory */
			Size		got = file_read_chunk(f, out + done, len - done);

			if (got == 0)
				break;
			done += got;
			continue;
		}
		f->len = file_read_chunk(f, f->buf, f->cap);
		f->pos = 0;
		if (f->len == 0)
			break;
	}
	return done;
}

/* Back to the start, for reading (what was written is flushed first). */
void
pit_file_rewind(PitFile *f)
{
	file_flush(f);
	if (f->writing)
	{
		/* from now on read, a chunk at a time */
		f->writing = false;
		if (f->buf != NULL && f->cap < PIT_FILE_MAX_BUF)
		{
			pfree(f->buf);
			f->buf = NULL;
		}
		f->cap = PIT_FILE_MAX_BUF;
	}
	if (f->buf == NULL)
		f->buf = MemoryContextAlloc(f->cxt, f->cap);
	f->filepos = 0;
	f->len = f->pos = 0;
}

/*
 * What was written so far out to the file, and its buffer freed until the
 * next write: for a file written in one phase and read in a later one.
 */
void
pit_file_park(PitFile *f)
{
	if (!f->writing)
		return;					/* being read: its buffer is the reads' */
	file_flush(f);
	if (f->buf != NULL)
		pfree(f->buf);
	f->buf = NULL;
}

/* Close: a shared file's bytes are all written first; a private one is deleted. */
void
pit_file_close(PitFile *f)
{
	if (f->shared)
		file_flush(f);
	FileClose(f->file);
	if (f->buf != NULL)
		pfree(f->buf);
	pfree(f);
}
