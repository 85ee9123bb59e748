// Writes `count` log lines with Winston's File transport and its own size rotation, as the
// stack's Node services do: JSON lines with level, message, timestamp, trace_id, span_id and
// request_id.
// Usage: node winston_writer.js <dir> <count> <maxsize bytes> <tailable: true|false> [first] [levels]
// Lines are numbered from `first` (default 0); line i has level levels[i % levels.length], from
// the comma-separated `levels` (default debug,info,warn,error; any of Winston's npm levels).
'use strict';
const winston = require('winston');

const [dir, count, maxsize, tailable, first, levelList] = process.argv.slice(2);
const levels = (levelList || 'debug,info,warn,error').split(',');
const logger = winston.createLogger({
  level: 'silly',
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  transports: [
    new winston.transports.File({
      filename: `${dir}/combined.log`,
      maxsize: Number(maxsize),
      maxFiles: 1000,
      tailable: tailable === 'true',
    }),
  ],
});

const start = Number(first || 0);
const total = start + Number(count);
let i = start;
function next() {
  // Small bursts with pauses, so rotation happens while the collector tails.
  for (let k = 0; k < 20 && i < total; k++, i++) {
    logger.log({
      level: levels[i % levels.length],
      message: `line ${i}`,
      request_id: `req-${i}`,
      trace_id: (i + 1).toString(16).padStart(32, '0'),
      span_id: (i + 1).toString(16).padStart(16, '0'),
    });
  }
  if (i < total) {
    setTimeout(next, 10);
  } else {
    // Node exits once the file stream has flushed and closed.
    logger.end();
  }
}
next();
