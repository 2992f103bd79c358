package cloak

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"time"
)

// RecordBatch is how many records are encoded at a time: a window's records are never
// all in memory at once.
const RecordBatch = 4096

// WriterOutput writes evaluate's results: each partner's records, one JSON value per
// line, exactly as the partner topic would get them; and, when Audit is set, one audit
// line per input event per partner (G4). Audit lines hold event ids: they are for the
// operator, never for partners.
type WriterOutput struct {
	partners []*bufio.Writer
	audit    *bufio.Writer
	names    []string
	buf      []byte
}

// NewBufferOutput writes each policy's records into a buffer of its own, bufs[i] for
// policies[i], and audit lines to audit (nil: none): for comparing evaluate's records
// with what came through Kafka. Flush the output before reading the buffers.
func NewBufferOutput(policies []*Policy, audit io.Writer) (out *WriterOutput, bufs []bytes.Buffer) {
	bufs = make([]bytes.Buffer, len(policies))
	ws := make([]io.Writer, len(policies))
	for i := range bufs {
		ws[i] = &bufs[i]
	}
	return NewWriterOutput(policies, ws, audit), bufs
}

// NewWriterOutput writes partner i's records to partners[i] (nil: not written) and audit
// lines to audit (nil: none).
func NewWriterOutput(policies []*Policy, partners []io.Writer, audit io.Writer) *WriterOutput {
	o := &WriterOutput{partners: make([]*bufio.Writer, len(policies))}
	for i, p := range policies {
		o.names = append(o.names, p.Name)
		if i < len(partners) && partners[i] != nil {
			o.partners[i] = bufio.NewWriterSize(partners[i], 1<<16)
		}
	}
	if audit != nil {
		o.audit = bufio.NewWriterSize(audit, 1<<16)
	}
	return o
}

// Suppressed implements Output.
func (o *WriterOutput) Suppressed(id string, reason Reason, _ string, w *Window) error {
	if o.audit == nil {
		return nil
	}
	for _, name := range o.names {
		o.buf = appendAudit(o.buf[:0], id, name, nil, "", reason, w)
		if _, err := o.audit.Write(o.buf); err != nil {
			return err
		}
	}
	return nil
}

// Released implements Output.
func (o *WriterOutput) Released(rel *Release) error {
	for i := range rel.Partners {
		pr := &rel.Partners[i]
		if bw := o.partners[i]; bw != nil {
			for recs := pr.Records(RecordBatch); recs != nil; recs = pr.Records(RecordBatch) {
				for _, r := range recs {
					bw.Write(r.Value)
					if err := bw.WriteByte('\n'); err != nil {
						return err
					}
				}
			}
		}
		if o.audit == nil {
			continue
		}
		for j := range rel.Len() {
			cl, reason := pr.Outcome(j)
			o.buf = appendAudit(o.buf[:0], rel.EventID(j), o.names[i], cl, rel.Label(i, j), reason, rel.Window)
			if _, err := o.audit.Write(o.buf); err != nil {
				return err
			}
		}
	}
	return nil
}

// Flush writes out what is buffered.
func (o *WriterOutput) Flush() error {
	for _, bw := range o.partners {
		if bw != nil {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
	}
	if o.audit != nil {
		return o.audit.Flush()
	}
	return nil
}

// AuditLine is one audit line read back (evaluate --audit): for tools and tests that
// recompute a release from its audit. appendAudit writes exactly these keys, in this
// order.
type AuditLine struct {
	EventID  string `json:"event_id"`
	Partner  string `json:"partner"`
	Released bool   `json:"released"`
	Cell     string `json:"cell"` // "" when not released
	Res      *int   `json:"res"`  // nil when not released
	// Category is the category the record shows, nil when it shows none.
	Category    *string `json:"category"`
	WindowStart string  `json:"window_start"` // "" when the event had no valid time
	WindowEnd   string  `json:"window_end"`
	Reason      string  `json:"reason"` // "" when released
}

// appendAudit writes one audit line:
// {"event_id","partner","released","cell","res","category","window_start","window_end","reason"}.
// A suppressed event has an empty cell and a null res; its window is given when known.
// category is what the event's record shows, null when it shows none (or none was
// released), so that every released tuple can be recomputed from the audit.
func appendAudit(b []byte, id, partner string, cl *Class, category string, reason Reason, w *Window) []byte {
	b = append(b, `{"event_id":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"partner":`...)
	b = appendJSONString(b, partner)
	if cl != nil {
		b = append(b, `,"released":true,"cell":"`...)
		b, _ = cl.Cell.AppendText(b)
		b = append(b, `","res":`...)
		b = strconv.AppendInt(b, int64(cl.Cell.Res()), 10)
	} else {
		b = append(b, `,"released":false,"cell":"","res":null`...)
	}
	b = append(b, `,"category":`...)
	if category != "" {
		b = appendJSONString(b, category)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"window_start":"`...)
	if w != nil {
		b = time.UnixMilli(w.Start).UTC().AppendFormat(b, time.RFC3339)
	}
	b = append(b, `","window_end":"`...)
	if w != nil {
		b = time.UnixMilli(w.End).UTC().AppendFormat(b, time.RFC3339)
	}
	b = append(b, `","reason":"`...)
	b = append(b, reason.String()...)
	return append(b, "\"}\n"...)
}
