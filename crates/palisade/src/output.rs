//! Standard output for every command. `print!` and `println!` here replace std's, which
//! panic when the reader has gone (`palisade security events | head`). A reader that
//! closed the pipe ends the command at once with exit code 141, as if SIGPIPE had
//! ended it, as it does other Unix tools (128 + 13). Any other write error (a full disk
//! under a redirection) ends it with 1 and a message on standard error.

/// Exit code of a command whose reader closed the pipe: 128 + SIGPIPE (13).
pub const CLOSED_PIPE: i32 = 141;

macro_rules! println {
    () => {
        $crate::output::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

macro_rules! print {
    ($($arg:tt)*) => {
        $crate::output::write(format_args!($($arg)*))
    };
}

/// Writes to standard output; see the module documentation for what ends the command.
pub fn write(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(CLOSED_PIPE);
        }
        // Standard error may be gone too: nothing more to do then than stop.
        let _ = writeln!(std::io::stderr(), "palisade: cannot write the output: {e}");
        std::process::exit(1);
    }
}
