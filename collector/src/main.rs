//! The `ferrotel` binary: the stock components and the command line.

fn main() {
    std::process::exit(ferrotel::main_with(ferrotel::components::builtin()));
}
