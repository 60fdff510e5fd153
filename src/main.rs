fn main() -> anyhow::Result<()> {
    swarmdeck::cli::main()
}
