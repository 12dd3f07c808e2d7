@main
struct Placeholder { static func main() { print("not built yet") } }
