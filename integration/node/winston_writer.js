// Writes `count` log lines with Winston's File transport and its own size rotation, as the
// stack's Node services do: JSON lines with level, message, timestamp, trace_id and span_id.
// Usage: node winston_writer.js <dir> <count> <maxsize bytes> <tailable: true|false>
'use strict';
const winston = require('winston');

const [dir, count, maxsize, tailable] = process.argv.slice(2);
const levels = ['debug', 'info', 'warn', 'error'];
const logger = winston.createLogger({
  level: 'debug',
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

const total = Number(count);
let i = 0;
function next() {
  // Small bursts with pauses, so rotation happens while the collector tails.
  for (let k = 0; k < 20 && i < total; k++, i++) {
    logger.log({
      level: levels[i % 4],
      message: `line ${i}`,
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
