# Here-documents, quoted and unquoted, into builtins and into children.
name=world
cat <<EOT
hello $name
literal \$name
EOT
cat <<'EOT'
quoted $name stays
EOT
	cat <<-EOT
	tabs stripped for $name
	EOT
while read -r line; do
    echo "read: $line"
done <<EOT
one
two
EOT
sh <<'EOT'
echo "a child shell reads its script from a here-document"
read -r line
echo "and then its own next line: $line"
EOT
tr a-z A-Z <<EOT | sed 's/^/piped: /'
here-document into a pipeline
EOT
